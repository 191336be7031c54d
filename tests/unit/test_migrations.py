"""A writer's database from before OpenTelemetry (revision 0001: no outbox.traceparent) is
upgraded at start to the newest revision, on SQLite and PostgreSQL, and its old events still
read and new ones are written."""

from __future__ import annotations

from alembic import command
from sqlalchemy import column, insert, inspect, table
from sqlalchemy.orm import Session

from shared.contracts.events import Customer, OrderRejected
from shared.db import make_engine
from shared.events import emit
from shared.events.models import OutboxCounter
from shared.events.outbox import events_after
from shared.migrations import alembic_config, current_revision, migrate


class TestAnOlderDatabase:
    def test_is_upgraded_once_and_keeps_its_events(self, database_url: str) -> None:
        engine = make_engine(database_url)
        try:
            with engine.begin() as conn:  # the schema as the version before made it
                command.upgrade(alembic_config("orders", conn), "0001")
                conn.execute(insert(table("outbox", column("seq"), column("event_id"),
                                          column("topic"), column("version"),
                                          column("payload"), column("occurred_at"),
                                          column("trace"))).values(
                    seq=1, event_id="00000000-0000-0000-0000-000000000001",
                    topic="order.rejected", version=1, payload='{"order_id": 1}',
                    occurred_at="2026-01-01T00:00:00Z", trace="old-trace"))
            assert "traceparent" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
            assert migrate(engine, "orders", "orders") == "0001"
            assert migrate(engine, "orders", "orders") == current_revision(engine) == "0002"
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
            with engine.begin() as conn:
                command.downgrade(alembic_config("orders", conn), "base")
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            engine.dispose()
