"""Schema changes through Alembic: one migration history per service, in
`services/<name>/migrations/versions`, applied when the service starts (under its start-up
lock, so replicas starting together migrate once).

A database made before the service had migrations (its tables created straight from the
models) is stamped with the first revision, which creates exactly those tables, and then
upgraded like any other. `env.py` of every history is the same two lines: it calls
`run_migrations()` below with the connection the service opened.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect

BASELINE = "0001"  # every history's first revision: the tables as the models made them


def history_of(service: str) -> Path:
    """The service's migrations folder (a package, so `pip install .` ships it)."""
    package = importlib.import_module(f"services.{service}.migrations")
    return Path(package.__file__ or "").parent


def alembic_config(service: str, conn: Connection) -> Config:
    """Alembic's settings for the service's history, run over `conn` (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(history_of(service)))
    config.attributes["connection"] = conn
    return config


def migrate(engine: Engine, service: str, baseline_table: str) -> str | None:
    """Bring the service's database to the newest revision; returns the revision it was
    at before (None: a new database). `baseline_table` is one table of the first revision:
    if it exists without a recorded revision, the tables came from the models."""
    with engine.begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        config = alembic_config(service, conn)
        if before is None and inspect(conn).has_table(baseline_table):
            command.stamp(config, BASELINE)
            before = BASELINE
        command.upgrade(config, "head")
    return before


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def run_migrations() -> None:
    """The body of every history's env.py (online only: a service migrates its own
    database over the connection `migrate` passes in)."""
    from alembic import context

    conn: Connection = context.config.attributes["connection"]
    context.configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
