"""Schema migrations (Alembic, one history per service): the migrations build exactly the
tables the models describe, a new database is migrated to the newest revision, and a
database made before there were migrations (the first revision's tables, straight from the
models of that version, no alembic_version) is adopted and upgraded by the real service
process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, inspect

from shared.contracts import SERVICES
from shared.db import make_engine
from shared.events.models import EventsBase
from shared.migrations import (
    BASELINE,
    alembic_config,
    current_revision,
    history_of,
    migrate,
    shipped_head,
)

from ..conftest import _backend
from ..support import Platform

ALL = sorted(SERVICES)


def models_of(service: str) -> MetaData:
    """Every table the service's code maps: its models, and the event tables of a writer."""
    metadata = MetaData()
    models = importlib.import_module(f"services.{service}.models")
    contract = SERVICES[service]
    sources = [models.Base.metadata] + ([EventsBase.metadata]
                                        if contract.publishes or contract.consumes else [])
    for source in sources:
        for table in source.tables.values():
            table.to_metadata(metadata)
    return metadata


def head_of(service: str) -> str:
    head = ScriptDirectory(str(history_of(service))).get_current_head()
    assert head is not None
    return head


@pytest.fixture(params=["sqlite", "postgres"])
def database_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with _backend(request.param, request) as env:
        yield env or {f"{s.upper()}_DATABASE_URL": f"sqlite:///{tmp_path}/{s}.db" for s in ALL}


def engine_for(urls: dict[str, str], service: str) -> Engine:
    return make_engine(urls[f"{service.upper()}_DATABASE_URL"])


@pytest.mark.parametrize("service", ALL)
def test_the_migrations_build_exactly_what_the_models_describe(tmp_path: Path,
                                                             service: str) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/{service}.db")
    assert migrate(engine, service, models_of(service).sorted_tables[0].name) is None
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), models_of(service))
    # A model changed without a new revision (or the reverse) shows up here.
    assert differences == []
    assert current_revision(engine) == head_of(service)


def test_a_database_made_before_migrations_is_adopted_and_upgraded_by_the_service(
        tmp_path: Path, database_urls: dict[str, str]) -> None:
    for service in ALL:  # the tables as the version before migrations made them
        engine = engine_for(database_urls, service)
        with engine.begin() as conn:
            command.upgrade(alembic_config(service, conn), BASELINE)
            conn.exec_driver_sql("DROP TABLE alembic_version")
        assert current_revision(engine) is None
        engine.dispose()
    platform = Platform(tmp_path, ALL, gateway=False, **database_urls)
    try:
        for service in ALL:
            assert platform.call(service, "health")["status"] == "ok"
        assert platform.call("product", "get", {"id": 1})["id"] == 1  # seeded, serving
    finally:
        platform.close()
    for service in ALL:
        engine = engine_for(database_urls, service)
        try:
            assert current_revision(engine) == head_of(service), service
            assert "alembic_version" in inspect(engine).get_table_names()
        finally:
            engine.dispose()


def test_a_new_database_is_migrated_by_the_service_and_a_restart_changes_nothing(
        tmp_path: Path, database_urls: dict[str, str]) -> None:
    platform = Platform(tmp_path, ["orders"], gateway=False, **database_urls)
    try:
        assert platform.call("orders", "list_orders", {})["total"] == 0
        platform.stop("orders", 15)
        platform.start("orders")
        assert platform.call("orders", "list_orders", {})["total"] == 0
    finally:
        platform.close()
    engine = engine_for(database_urls, "orders")
    try:
        assert current_revision(engine) == head_of("orders")
    finally:
        engine.dispose()



@pytest.mark.parametrize("service", ALL)
def test_the_head_read_from_the_files_is_alembics(service: str) -> None:
    assert shipped_head(service) == head_of(service)


def test_a_start_at_the_newest_revision_does_not_import_alembic(tmp_path: Path) -> None:
    """The usual start: one query says the schema is current, and Alembic stays unloaded
    (a fifth of a service's start-up imports)."""
    url = f"sqlite:///{tmp_path}/orders.db"
    migrate(create_engine(url), "orders", "orders")  # made and migrated here, in this process
    script = ("import sys; from shared.db import make_engine; "
              "from shared.migrations import migrate; "
              f"print(migrate(make_engine({url!r}), 'orders', 'orders'), "
              "'alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == [head_of("orders"), "False"], done.stdout + done.stderr
