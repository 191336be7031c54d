"""Schema changes through Alembic: one migration history per service, in
`services/<name>/migrations/versions`, applied when the service starts (under its start-up
lock, so replicas starting together migrate once).

A database made before the service had migrations (its tables created straight from the
models) is stamped with the first revision, which creates exactly those tables, and then
upgraded like any other. `env.py` of every history is the same two lines: it calls
`run_migrations()` below with the connection the service opened.

Alembic is imported only when there is work for it: a database already at the newest
revision the service ships (the usual start) is recognised with one query and the names in
its versions folder, which saves a fifth of a service's start-up imports.
"""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

BASELINE = "0001"  # every history's first revision: the tables as the models made them


def history_of(service: str) -> Path:
    """The service's migrations folder (a package, so `pip install .` ships it)."""
    package = importlib.import_module(f"services.{service}.migrations")
    return Path(package.__file__ or "").parent


_REVISION = re.compile(r'^(down_)?revision = "([^"]+)"$', re.M)


def shipped_head(service: str) -> str | None:
    """The newest revision of the service's history, read from its files; None when that
    is not one revision (a branch): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (history_of(service) / "versions").glob("*.py"):
        for down, revision in _REVISION.findall(path.read_text()):
            (parents if down else revisions).add(revision)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def alembic_config(service: str, conn: Connection) -> Config:
    """Alembic's settings for the service's history, run over `conn` (no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(history_of(service)))
    config.attributes["connection"] = conn
    return config


def migrate(engine: Engine, service: str, baseline_table: str) -> str | None:
    """Bring the service's database to the newest revision; returns the revision it was
    at before (None: a new database). `baseline_table` is one table of the first revision:
    if it exists without a recorded revision, the tables came from the models."""
    with engine.begin() as conn:
        before = _stored_revision(conn)
        if before is not None and before == shipped_head(service):
            return before  # at the newest revision already: nothing for Alembic to do
        # Its INFO lines (plugins set up, the dialect) say nothing a user needs; our own
        # line says which revision the schema went from and to. Set before the import,
        # which already sets its plugins up.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        from alembic import command

        config = alembic_config(service, conn)
        if before is None and inspect(conn).has_table(baseline_table):
            command.stamp(config, BASELINE)
            before = BASELINE
        command.upgrade(config, "head")
    return before


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _stored_revision(conn)


def run_migrations() -> None:
    """The body of every history's env.py (online only: a service migrates its own
    database over the connection `migrate` passes in)."""
    from alembic import context

    conn: Connection = context.config.attributes["connection"]
    context.configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
