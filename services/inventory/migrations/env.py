"""Alembic's entry point for inventory's history: the service passes its own connection."""

from shared.migrations import run_migrations

run_migrations()
