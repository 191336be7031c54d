"""Engines and sessions: one database per service, SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Mapper, Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite, create the data folder, set WAL + a busy timeout, and
    make every transaction a real one (see _sqlite_begin)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 (3.11) emits BEGIN only before INSERT/UPDATE/DELETE, never before a
    # SELECT or a SAVEPOINT; a unit of work that reads first then opens a savepoint has no
    # outer transaction, and the savepoint's RELEASE commits on its own. Take transaction
    # control away from the driver; _sqlite_begin opens every transaction itself.
    dbapi_connection.isolation_level = None
    # WAL lets readers run while a writer commits; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


READ_ONLY = "zeroshop_read_only"  # execution option of a unit of work that never writes


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then
    # writes fails at once with SQLITE_BUSY when another writer committed in between (the
    # busy timeout cannot help it); an immediate one waits for the lock instead. WAL readers
    # in other connections are not blocked by it. A read-only unit of work never upgrades,
    # so it begins deferred and neither waits for nor holds up the writers.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    # Straight to the driver: through the engine, this one statement per unit of work cost
    # about 15 of a database lookup's 265 us of CPU (in process), for no result to build.
    driver = conn.connection.dbapi_connection
    assert driver is not None  # a connection being begun is checked out
    driver.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of `url` if it does not exist yet (`make run
    DB=postgres`: one database per service, made on first start); True if it was made."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": target.database})
            if exists:
                return False
            try:  # a name from our own config, quoted: CREATE DATABASE takes no parameters
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
            except ProgrammingError as exc:  # another replica made it a moment ago
                if "already exists" not in str(exc):
                    raise
                return False
            return True
    finally:
        admin.dispose()


class ServiceSession(Session):
    """The session every handler gets: a Session whose `get(Class, id)` by a one-column
    primary key runs a statement built once per class. Session.get builds and annotates a
    new SELECT on every call, and its cache key with it: about 60 of a lookup's 110 us of CPU
    (measured in process), for the same statement each time. Same answers: an object already
    in the session, anything with options, and composite keys take Session.get itself; the
    statement autoflushes first, as Session.get's does."""

    def get(self, entity: Any, ident: Any, **options: Any) -> Any:
        found = None if options or isinstance(ident, tuple | list | dict) \
            else _by_primary_key(entity)
        if found is None:
            return super().get(entity, ident, **options)
        mapper, statement = found
        if mapper.identity_key_from_primary_key((ident,)) in self.identity_map:
            return super().get(entity, ident)  # loaded already (maybe expired): it knows
        return self.execute(statement, {"pk": ident}).scalar_one_or_none()


_BY_PRIMARY_KEY: dict[type, tuple[Mapper[Any], Select[Any]] | None] = {}


def _by_primary_key(entity: Any) -> tuple[Mapper[Any], Select[Any]] | None:
    """The mapper of a plain mapped class with one primary key column, and SELECT entity
    WHERE that key = :pk; None for anything else (Session.get handles it)."""
    if not isinstance(entity, type):
        return None
    if entity not in _BY_PRIMARY_KEY:
        mapper: Mapper[Any] | None = inspect(entity, raiseerr=False)  # None: not mapped
        simple = (mapper is not None and len(mapper.primary_key) == 1
                  and mapper.inherits is None and mapper.polymorphic_on is None)
        _BY_PRIMARY_KEY[entity] = ((mapper, select(entity).where(
            mapper.primary_key[0] == bindparam("pk"))) if mapper is not None and simple
            else None)
    return _BY_PRIMARY_KEY[entity]


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for a service's units of work: ServiceSession, with expire_on_commit=False
    (an object read after its commit is not loaded again)."""
    return sessionmaker(engine, class_=ServiceSession, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], read_only: bool = False) -> Iterator[Session]:
    """One session per message: commit on success, roll back on any error. `read_only`: the
    work only reads (SQLite then takes no write lock)."""
    session = factory()
    try:
        if read_only:
            session.connection(execution_options={READ_ONLY: True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def startup_lock(engine: Engine, name: str) -> Iterator[None]:
    """Serialize start-up work (create tables, seed) across replicas sharing a PostgreSQL
    database: two replicas starting at once would both seed an empty catalog. SQLite files
    are not shared between replicas, so there it is a no-op."""
    if engine.dialect.name != "postgresql":
        yield
        return
    key = zlib.crc32(f"zeroshop:{name}".encode())
    with engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(key)))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(key)))
            conn.commit()

