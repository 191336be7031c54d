"""The pricing service's schema migrations (Alembic; see shared/migrations.py)."""
