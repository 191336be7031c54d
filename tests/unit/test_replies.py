"""The reply cache under the runtime's dispatch, without sockets, on a real database: a query
is answered from memory until the service commits a write; then it reads again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import msgspec
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.inventory import service as inventory
from services.orders import service as orders
from services.orders.models import Base as OrdersBase
from services.pricing import service as pricing
from services.pricing.models import Base as PricingBase
from services.pricing.models import PriceRow
from shared.contracts.bus import Envelope
from shared.contracts.events import StockLine, StockReserved
from shared.contracts.notifications import EMAIL, SMS
from shared.contracts.orders import ORDERS
from shared.db import make_engine, unit_of_work
from shared.events.consumer import Consumer
from shared.events.models import EventsBase
from shared.events.outbox import ensure_counter
from shared.runtime.replies import ReplyCache

from .test_consumer import placed, sessions  # noqa: F401 - a fixture


def ask(service: object, factory: sessionmaker[Session], method: str, params: dict,
        request_id: str = "r") -> dict:
    body = json.dumps({"method": method, "params": params, "id": request_id}).encode()
    reply = service.dispatch(body, factory)  # type: ignore[attr-defined]
    assert reply is not None
    return dict(json.loads(reply))


def price_behind_its_back(factory: sessionmaker[Session], amount: int) -> None:
    """A change the service did not make (never done in production: it alone writes)."""
    with unit_of_work(factory) as db:
        db.execute(update(PriceRow).where(PriceRow.product_id == 1).values(amount=amount))


@pytest.fixture
def priced(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    PricingBase.metadata.drop_all(engine)
    PricingBase.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with unit_of_work(factory) as db:
        pricing.seed(db)
    pricing.svc.replies = ReplyCache()
    yield factory
    PricingBase.metadata.drop_all(engine)
    engine.dispose()


class TestQueriesFromMemory:
    def test_a_repeated_query_is_answered_without_the_database(self, priced) -> None:
        first = ask(pricing.svc, priced, "get_price", {"product_id": 1}, "a")
        price_behind_its_back(priced, 1)
        again = ask(pricing.svc, priced, "get_price", {"product_id": 1}, "b")
        assert again == {**first, "id": "b"}  # the cached result, under the new request's id
        pricing.svc.replies.changed()  # what every commit of the service's own does
        assert ask(pricing.svc, priced, "get_price", {"product_id": 1})["result"]["amount"] == 1

    def test_errors_and_other_params_are_not_taken_from_the_cache(self, priced) -> None:
        ask(pricing.svc, priced, "get_price", {"product_id": 1})
        assert ask(pricing.svc, priced, "get_price", {"product_id": 2})["result"]["product_id"] == 2
        assert ask(pricing.svc, priced, "get_price", {"product_id": 999})["ok"] is False
        assert ask(pricing.svc, priced, "get_price", {"product_id": "x"})["error"]["code"] == \
            "bad_params"

    def test_health_leaves_the_cache_alone(self, priced) -> None:
        # A breaker's probe and every readiness check call health: it writes nothing.
        ask(pricing.svc, priced, "get_price", {"product_id": 1})
        price_behind_its_back(priced, 3)
        assert ask(pricing.svc, priced, "health", {})["result"]["status"] == "ok"
        assert ask(pricing.svc, priced, "get_price", {"product_id": 1})["result"]["amount"] != 3

    def test_a_size_of_zero_turns_it_off(self, priced) -> None:
        pricing.svc.replies = ReplyCache(0)
        ask(pricing.svc, priced, "get_price", {"product_id": 1})
        price_behind_its_back(priced, 7)
        assert ask(pricing.svc, priced, "get_price", {"product_id": 1})["result"]["amount"] == 7


def test_an_answer_computed_across_a_write_is_not_kept() -> None:
    replies = ReplyCache()
    version = replies.version  # the query starts...
    replies.changed()  # ...a write commits meanwhile...
    replies.put(("get", b"{}"), msgspec.Raw(b"1"), version)  # ...its answer may be stale
    assert replies.get(("get", b"{}")) is None


@pytest.fixture
def stocked(sessions: sessionmaker[Session]) -> sessionmaker[Session]:  # noqa: F811
    """inventory's tables, seeded (test_consumer's fixture), and a fresh reply cache."""
    inventory.svc.replies = ReplyCache()
    return sessions


def test_an_applied_event_makes_the_next_query_read_again(stocked) -> None:
    """inventory's consumer commits a reservation: get_stock shows it at once."""
    consumer = Consumer(stocked, inventory.svc.subscriptions, inventory.svc.contract.publishes,
                        lambda: None, on_commit=inventory.svc.replies.changed)
    consumer.load_offsets(["orders"])
    before = ask(inventory.svc, stocked, "get_stock", {"product_id": 1})["result"]["available"]
    assert consumer.apply("orders", placed(1, product_id=1, quantity=2))
    after = ask(inventory.svc, stocked, "get_stock", {"product_id": 1})["result"]["available"]
    assert after == before - 2


def test_a_query_on_sqlite_does_not_wait_for_the_write_lock(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'locked.db'}")
    PricingBase.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with unit_of_work(factory) as db:
        pricing.seed(db)
    writer = Session(engine)
    writer.execute(update(PriceRow).values(amount=PriceRow.amount))  # holds the write lock
    seen: list[int | None] = []
    reader = threading.Thread(target=lambda: seen.append(_read_price(factory)))
    reader.start()
    reader.join(5)  # a BEGIN IMMEDIATE would wait for the writer (up to 30 s)
    read_while_locked = not reader.is_alive()
    writer.rollback()
    writer.close()
    reader.join()
    engine.dispose()
    assert read_while_locked and seen and seen[0] is not None


def _read_price(factory: sessionmaker[Session]) -> int | None:
    with unit_of_work(factory, read_only=True) as db:
        return db.scalar(select(PriceRow.amount).where(PriceRow.product_id == 1))


def test_the_reads_of_orders_and_the_notifiers_are_queries() -> None:
    """Reads of data only their service writes: no write lock, and no commit in a trace."""
    reads = {c.name: {m.name for m in c.methods.values() if m.query}
             for c in (ORDERS, EMAIL, SMS)}
    assert reads == {"orders": {"get_order", "list_orders"}, "email": {"list_sent"},
                     "sms": {"list_sent"}}


def test_an_order_read_from_memory_shows_the_next_applied_event(tmp_path) -> None:
    """get_order may be answered from memory: orders confirming the order (its consumer
    committing) must show in the very next read."""
    engine = make_engine(f"sqlite:///{tmp_path / 'orders.db'}")
    for metadata in (OrdersBase.metadata, EventsBase.metadata):
        metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with unit_of_work(factory) as db:
        ensure_counter(db)
    orders.svc.replies = ReplyCache()
    line = {"product_id": 1, "name": "Mug", "quantity": 2, "unit_price": 1000,
            "final_unit_price": 900}
    placed_order = ask(orders.svc, factory, "place_order", {
        "customer": {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"},
        "lines": [line], "currency": "USD"})["result"]
    order_id = placed_order["order_id"]
    assert ask(orders.svc, factory, "get_order", {"order_id": order_id})["result"]["status"] \
        == "pending"
    consumer = Consumer(factory, orders.svc.subscriptions, orders.svc.contract.publishes,
                        lambda: None, on_commit=orders.svc.replies.changed)
    consumer.load_offsets(["inventory"])
    reserved = StockReserved(order_id=order_id, lines=[StockLine(product_id=1, quantity=2)])
    assert consumer.apply("inventory", Envelope(
        publisher="inventory", seq=1, id="e1", topic="stock.reserved", version=1,
        occurred_at="2026-01-01T00:00:00+00:00",
        payload=msgspec.Raw(msgspec.json.encode(reserved))))
    after = ask(orders.svc, factory, "get_order", {"order_id": order_id})["result"]
    engine.dispose()
    assert after["status"] == "confirmed"
    assert [t["event"] for t in after["timeline"]] == [
        "order.placed", "stock.reserved", "order.confirmed"]
