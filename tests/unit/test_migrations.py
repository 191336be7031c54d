"""A database made by an older version gets the event tables' new nullable columns at start
(`add_missing_columns`), on SQLite and PostgreSQL, and its old events still read."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, inspect
from sqlalchemy.orm import Session

from shared.contracts.events import Customer, OrderRejected
from shared.db import add_missing_columns, make_engine
from shared.events import emit
from shared.events.models import EventsBase, OutboxCounter
from shared.events.outbox import events_after


def old_outbox(metadata: MetaData) -> Table:
    """The outbox as versions before OpenTelemetry created it: no `traceparent`."""
    return Table("outbox", metadata, Column("seq", Integer, primary_key=True),
                 Column("event_id", String(36)), Column("topic", String(100)),
                 Column("version", Integer), Column("payload", Text),
                 Column("occurred_at", String(40)), Column("trace", String(64)),
                 Column("published_at", String(40)))


class TestAnOlderDatabase:
    def test_gets_the_new_columns_once_and_keeps_its_events(self, database_url: str) -> None:
        engine = make_engine(database_url)
        EventsBase.metadata.drop_all(engine)
        old = MetaData()
        table = old_outbox(old)
        old.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(table).values(
                seq=1, event_id="00000000-0000-0000-0000-000000000001", topic="order.rejected",
                version=1, payload='{"order_id": 1}', occurred_at="2026-01-01T00:00:00Z",
                trace="old-trace"))
        try:
            EventsBase.metadata.create_all(engine)  # the other tables; outbox stays as it was
            assert add_missing_columns(engine, EventsBase.metadata) == ["outbox.traceparent"]
            assert add_missing_columns(engine, EventsBase.metadata) == []
            assert "traceparent" in {c["name"] for c in inspect(engine).get_columns("outbox")}
            with Session(engine) as db:
                (event,) = events_after(db, "orders", 0, 10)
                assert (event.trace, event.traceparent) == ("old-trace", None)
                db.add(OutboxCounter(id=1, last_seq=1))  # as the old version left it
                db.flush()
                ada = Customer(name="Ada", email="ada@example.com", phone="+44 20 7946 0000")
                emit(db, OrderRejected(order_id=2, customer=ada, reason="out of stock"))
                db.commit()
                assert len(events_after(db, "orders", 0, 10)) == 2
        finally:
            EventsBase.metadata.drop_all(engine)
            engine.dispose()
