"""The transaction boundary, on SQLite and PostgreSQL: a unit of work is one transaction from
its first statement to its commit, and a savepoint inside it commits nothing on its own.

On SQLite this once failed: Python's sqlite3 opened no transaction before a SELECT or a
SAVEPOINT, so the savepoint's RELEASE was a COMMIT, and a process killed after it had its
half-done work applied (an event applied twice after the restart)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, Integer, MetaData, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from shared.db import unit_of_work


class Base(DeclarativeBase):
    pass


class Counter(Base):
    __tablename__ = "uow_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int]


@pytest.fixture
def engine(engine_for: Callable[[MetaData], Engine]) -> Engine:
    made = engine_for(Base.metadata)
    with unit_of_work(sessionmaker(made)) as db:
        db.add(Counter(id=1, value=10))
    return made


def committed(engine: Engine) -> list[tuple[int, int]]:
    """What another connection sees: committed rows only."""
    with engine.connect() as conn:
        return [(r.id, r.value) for r in conn.execute(select(Counter).order_by(Counter.id))]


class TestSavepointInsideAUnitOfWork:
    def test_a_released_savepoint_commits_nothing_before_the_unit_of_work(
            self, engine: Engine) -> None:
        sessions = sessionmaker(engine)
        with pytest.raises(RuntimeError), unit_of_work(sessions) as db:
            db.scalar(select(Counter.value))  # a read first, as the consumer does
            with db.begin_nested():
                db.execute(update(Counter).values(value=Counter.value - 1))
            assert db.scalar(select(Counter.value)) == 9  # visible inside
            raise RuntimeError("the unit of work fails after its savepoint")
        assert committed(engine) == [(1, 10)]

    def test_a_rolled_back_savepoint_keeps_the_work_around_it(self, engine: Engine) -> None:
        with unit_of_work(sessionmaker(engine)) as db:
            db.add(Counter(id=2, value=0))
            savepoint = db.begin_nested()
            db.execute(update(Counter).where(Counter.id == 1).values(value=0))
            savepoint.rollback()
            db.add(Counter(id=3, value=0))
        assert committed(engine) == [(1, 10), (2, 0), (3, 0)]

    def test_a_process_killed_after_a_released_savepoint_leaves_nothing(
            self, engine: Engine, database_url: str) -> None:
        script = textwrap.dedent(f"""
            import os
            from sqlalchemy import select, update
            from sqlalchemy.orm import sessionmaker
            from shared.db import make_engine, unit_of_work
            from tests.unit.test_db import Counter
            with unit_of_work(sessionmaker(make_engine({database_url!r}))) as db:
                db.scalar(select(Counter.value))
                with db.begin_nested():
                    db.execute(update(Counter).values(value=Counter.value - 1))
                db.add(Counter(id=2, value=1))
                db.flush()
                os._exit(9)  # killed before the commit
        """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 9, done.stderr
        assert committed(engine) == [(1, 10)]


def test_concurrent_units_of_work_that_read_then_write_all_succeed(engine: Engine) -> None:
    """The consumer's shape (read its offset, then write) from several threads at once:
    none fails with 'database is locked' (on SQLite the write lock is taken at BEGIN)."""
    sessions = sessionmaker(engine)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                with unit_of_work(sessions) as db:
                    db.scalar(select(Counter.value))
                    db.execute(update(Counter).values(value=Counter.value + 1))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert committed(engine) == [(1, 110)]
