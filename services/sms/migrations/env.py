"""Alembic's entry point for sms's history: the service passes its own connection."""

from shared.migrations import run_migrations

run_migrations()
