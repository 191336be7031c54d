"""Fixtures shared by every tier: databases (SQLite and PostgreSQL) and the running platform."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.orm import Session

from shared.chaos.scratch import postgres_databases
from shared.db import ServiceSession, make_engine

from .support import Platform

POSTGRES_ADMIN_URL = os.environ.get(
    "ZEROSHOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end.

    Unreachable PostgreSQL fails the run under CI=true (never a silent skip there).
    """
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"zeroshop_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no PostgreSQL"
        admin.dispose()
        message = f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each database-touching test runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine_for(database_url: str) -> Iterator[Callable[[MetaData], Engine]]:
    """`engine_for(Base.metadata)`: an engine on fresh tables for these models, on each
    database; the tables are dropped afterwards."""
    made: list[tuple[Engine, MetaData]] = []

    def make(metadata: MetaData) -> Engine:
        engine = make_engine(database_url)
        metadata.drop_all(engine)
        metadata.create_all(engine)
        made.append((engine, metadata))
        return engine

    yield make
    for engine, metadata in made:
        metadata.drop_all(engine)
        engine.dispose()


@pytest.fixture
def session_for(engine_for: Callable[[MetaData], Engine]
                ) -> Iterator[Callable[[MetaData], Session]]:
    """`session_for(Base.metadata)`: a session on fresh tables for one service's models."""
    opened: list[Session] = []

    def make(metadata: MetaData) -> Session:
        session = ServiceSession(engine_for(metadata), expire_on_commit=False)  # as handlers
        opened.append(session)
        return session

    yield make
    for session in opened:  # closed before engine_for drops the tables
        session.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The five page services and the gateway, shared by one test module."""
    running = Platform(tmp_path_factory.mktemp("platform"))
    yield running
    running.close()


@contextmanager
def _backend(kind: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Environment for a Platform on SQLite (the default) or with one fresh PostgreSQL
    database per service."""
    if kind == "sqlite":
        yield {}
        return
    request.getfixturevalue("postgres_url")  # fails loudly under CI=true when it is down
    with postgres_databases(POSTGRES_ADMIN_URL, "test") as env:
        yield env


@pytest.fixture(params=["sqlite", "postgres"])
def backend_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Run the test twice: services on SQLite, then on PostgreSQL (fresh databases)."""
    with _backend(request.param, request) as env:
        yield env


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_backend_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Like backend_env, shared by the tests of one module."""
    with _backend(request.param, request) as env:
        yield env
