"""ServiceSession, the session every handler gets, answers `get` exactly as Session does
(its fast path is one statement built once per class): on SQLite and on PostgreSQL, the
same sequence of lookups through both must see the same things and run as many queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, String, event, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import _BY_PRIMARY_KEY, ServiceSession


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "service_session_item"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(20))


class Pair(Base):  # a composite key: Session.get's own path
    __tablename__ = "service_session_pair"
    a: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    b: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[int]


@pytest.fixture
def engine(engine_for: Callable[[MetaData], Engine]) -> Engine:
    return engine_for(Base.metadata)


def _reset(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        db.query(Item).delete()
        db.query(Pair).delete()
        db.add_all([Item(id=1, name="one"), Item(id=2, name="two"), Pair(a=1, b="x", value=5)])


def _scenario(engine: Engine, session_class: type[Session]) -> list[Any]:
    """Lookups of every kind, what each saw, and how many statements each ran."""
    _reset(engine)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])
    event.listen(engine, "before_cursor_execute", count)
    seen: list[Any] = []
    try:
        with session_class(engine, expire_on_commit=False) as db:
            def look(label: str, found: Any) -> None:
                seen.append((label, None if found is None else repr(_state(found)),
                             len(statements)))
            first = db.get(Item, 1)
            look("a row", first)
            look("again: from the session, no query", db.get(Item, 1))
            seen.append(("the same object", db.get(Item, 1) is first))
            look("no such row", db.get(Item, 99))
            db.add(Item(id=3, name="three"))
            look("a pending object: flushed first", db.get(Item, 3))
            look("composite key", db.get(Pair, (1, "x")))
            db.commit()  # the loaded objects stay in the session (and SQLite lets another write)
            with Session(engine) as other, other.begin():  # another writer changes row 2
                other.execute(update(Item).where(Item.id == 2).values(name="deux"))
            look("a row changed elsewhere, never loaded here", db.get(Item, 2))
            db.commit()
            with Session(engine) as other, other.begin():
                other.execute(update(Item).where(Item.id == 1).values(name="un"))
            look("a loaded row changed elsewhere", db.get(Item, 1))
            look("populate_existing", db.get(Item, 1, populate_existing=True))
            db.expire(first)
            look("an expired object", db.get(Item, 1))
            db.delete(db.get(Item, 2))
            db.flush()
            look("a deleted row", db.get(Item, 2))
            db.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def _state(obj: Any) -> tuple[Any, ...]:
    if isinstance(obj, Item):
        return ("item", obj.id, obj.name)
    return ("pair", obj.a, obj.b, obj.value)


def test_get_sees_and_queries_exactly_what_session_get_does(engine: Engine) -> None:
    expected = _scenario(engine, Session)
    assert _scenario(engine, ServiceSession) == expected
    # The scenario is not vacuous: rows found, rows missing, a query saved by the session.
    labels = dict((label, found) for label, found, *_ in expected)
    assert labels["a row"] == repr(("item", 1, "one"))
    assert labels["no such row"] is None
    assert labels["a pending object: flushed first"] == repr(("item", 3, "three"))
    assert labels["populate_existing"] == repr(("item", 1, "un"))
    assert expected[0][2] == expected[1][2]  # the second lookup of row 1 ran no statement


def test_a_plain_lookup_takes_the_statement_built_once_and_a_composite_key_does_not(
        engine: Engine) -> None:
    _reset(engine)
    with ServiceSession(engine) as db:
        assert db.get(Item, 2) is not None and db.get(Pair, (1, "x")) is not None
    assert _BY_PRIMARY_KEY[Item] is not None
    assert Pair not in _BY_PRIMARY_KEY


def test_a_class_that_is_not_mapped_fails_as_with_session_get(engine: Engine) -> None:
    class NotMapped:
        pass
    errors = []
    for session_class in (Session, ServiceSession):
        with session_class(engine) as db, pytest.raises(Exception) as raised:
            db.get(NotMapped, 1)
        errors.append(type(raised.value))
    assert errors[0] is errors[1]
