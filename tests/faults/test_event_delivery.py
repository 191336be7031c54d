"""Fault tests for the event flow: a consumer down, a publisher crashing after commit, a
consumer killed inside its transaction, every event delivered twice, a consumer joining late.
On SQLite and on PostgreSQL.

Invariants: every order settles; exactly one email and one SMS per order; stock moves
exactly once per order; sequence numbers have no gaps."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.catalog_seed import products
from shared.messaging import RpcError

from ..support import Platform, wait_for

ADA = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
PLENTY = [p for p in products() if p.stock >= 100]
# The event flow alone: no gateway, no pricing; orders are placed over orders' own RPC.
FLOW = ["orders", "inventory", "email", "sms", "recommendation"]


def place(shop: Platform, product_id: int, quantity: int = 1, key: str | None = None,
          timeout_ms: int = 5000) -> dict:
    line = {"product_id": product_id, "name": f"product {product_id}", "quantity": quantity,
            "unit_price": 1000, "final_unit_price": 900}
    return dict(shop.call("orders", "place_order", {
        "customer": ADA, "lines": [line], "currency": "USD", "idempotency_key": key},
        timeout_ms))


def sent(shop: Platform, channel: str) -> list[dict]:
    return list(shop.call(channel, "list_sent", {"limit": 1000})["items"])


def statuses(shop: Platform) -> list[str]:
    return [o["status"] for o in shop.call("orders", "list_orders", {"page_size": 100})["items"]]


@pytest.fixture
def shop(tmp_path: Path, backend_env: dict[str, str]) -> Iterator[Platform]:
    running = Platform(tmp_path, FLOW, gateway=False, **backend_env)
    yield running
    running.close()


class TestConsumerDown:
    def test_email_down_for_fifty_orders_sends_fifty_emails_once(self, shop: Platform) -> None:
        shop.stop("email", signal.SIGKILL)
        ids = [place(shop, PLENTY[i % 5].id)["order_id"] for i in range(50)]
        wait_for(lambda: len(sent(shop, "sms")) == 50, timeout=30, what="50 SMS")
        shop.start("email")
        wait_for(lambda: len(sent(shop, "email")) == 50, timeout=30, what="50 emails")
        emails = sent(shop, "email")
        assert sorted(e["order_id"] for e in emails) == sorted(ids)  # none twice, none lost
        assert statuses(shop).count("confirmed") == 50


class TestPublisherCrash:
    def test_an_event_committed_before_a_crash_is_delivered_once(self, shop: Platform) -> None:
        product = PLENTY[0]
        before = shop.call("inventory", "get_stock", {"product_id": product.id})["available"]
        shop.stop("orders", signal.SIGTERM)
        shop.start("orders", ZEROSHOP_FAULT_CRASH_AFTER_COMMIT="1")
        with pytest.raises(RpcError) as no_answer:  # it dies before it can answer
            place(shop, product.id, 3, key="crash-1", timeout_ms=1000)
        assert no_answer.value.code in ("timeout", "unavailable")
        wait_for(lambda: not shop.group.children["orders"].running, what="orders to crash")
        assert shop.group.children["orders"].process.returncode == 86
        # Committed, never published: inventory has not seen it.
        assert shop.call("inventory", "offsets")["items"] == [{"publisher": "orders",
                                                                "last_seq": 0}]
        shop.start("orders")
        retried = place(shop, product.id, 3, key="crash-1")
        assert (retried["order_id"], retried["created"]) == (1, False)  # not a second order
        wait_for(lambda: len(sent(shop, "email")) == 1 and len(sent(shop, "sms")) == 1,
                 what="the notifications")
        assert statuses(shop) == ["confirmed"]
        after = shop.call("inventory", "get_stock", {"product_id": product.id})["available"]
        assert after == before - 3


class TestConsumerCrashInsideItsTransaction:
    def test_inventory_killed_before_its_commit_takes_the_stock_once(
            self, shop: Platform) -> None:
        """Killed after reserve_stock's savepoint was released and its offset moved, before
        the commit: nothing of it may survive, so the restart applies the event once."""
        product = PLENTY[0]
        before = shop.call("inventory", "get_stock", {"product_id": product.id})["available"]
        shop.stop("inventory", signal.SIGTERM)
        shop.start("inventory", ZEROSHOP_FAULT_CRASH_BEFORE_COMMIT="1")
        place(shop, product.id, 3)
        wait_for(lambda: not shop.group.children["inventory"].running,
                 what="inventory to die inside its transaction")
        assert shop.group.children["inventory"].process.returncode == 87
        shop.start("inventory", ZEROSHOP_FAULT_CRASH_BEFORE_COMMIT="")
        wait_for(lambda: statuses(shop) == ["confirmed"], what="the order to be confirmed")
        after = shop.call("inventory", "get_stock", {"product_id": product.id})["available"]
        assert after == before - 3  # twice (before - 6) when the savepoint committed early

    def test_inventory_killed_inside_a_group_commit_takes_each_order_once(
            self, shop: Platform) -> None:
        """Five orders wait while inventory is down; it catches up with all of them in one
        transaction (group commit) and is killed before that commit."""
        chosen = PLENTY[:5]

        def stock() -> list[int]:
            return [shop.call("inventory", "get_stock", {"product_id": p.id})["available"]
                    for p in chosen]
        before = stock()
        shop.stop("inventory", signal.SIGTERM)
        for product in chosen:
            place(shop, product.id, 2)
        crashing = shop.group.spawn("inventory", "services.inventory",
                                    {**shop.env, "ZEROSHOP_FAULT_CRASH_BEFORE_COMMIT": "1"})
        assert crashing.process.wait(60) == 87
        shop.start("inventory", ZEROSHOP_FAULT_CRASH_BEFORE_COMMIT="")
        wait_for(lambda: statuses(shop) == ["confirmed"] * 5, what="five confirmed orders")
        assert stock() == [n - 2 for n in before]


class TestDuplicates:
    def test_every_event_delivered_again_changes_nothing(self, shop: Platform) -> None:
        for i in range(5):
            place(shop, PLENTY[i].id, 2)
        wait_for(lambda: len(sent(shop, "sms")) == 5 and len(sent(shop, "email")) == 5,
                 what="notifications")
        wait_for(lambda: len(shop.call("orders", "get_order", {"order_id": 5})["timeline"]) == 5,
                 what="timeline")
        order = shop.call("orders", "get_order", {"order_id": 1})
        stock = [shop.call("inventory", "get_stock", {"product_id": p.id})["available"]
                 for p in PLENTY[:5]]
        offsets = {s: shop.call(s, "offsets")["items"] for s in FLOW}
        for publisher in ("orders", "inventory", "email", "sms"):
            again = shop.call(publisher, "republish", {"after": 0})
            assert again["last_seq"] > 0
        # Wait until a new event proves every consumer has read past the replays.
        place(shop, PLENTY[5].id)
        wait_for(lambda: len(sent(shop, "sms")) == 6 and len(sent(shop, "email")) == 6,
                 what="the marker order")
        assert shop.call("orders", "get_order", {"order_id": 1})["timeline"] == order["timeline"]
        assert [shop.call("inventory", "get_stock", {"product_id": p.id})["available"]
                for p in PLENTY[:5]] == stock
        assert sorted(e["order_id"] for e in sent(shop, "email")) == [1, 2, 3, 4, 5, 6]
        for service, before in offsets.items():
            for old, new in zip(before, shop.call(service, "offsets")["items"], strict=True):
                assert new["last_seq"] >= old["last_seq"]


class TestLateConsumer:
    def test_a_consumer_started_after_the_events_catches_up(self, tmp_path: Path,
                                                            backend_env: dict[str, str]) -> None:
        shop = Platform(tmp_path, [s for s in FLOW if s != "sms"], gateway=False, **backend_env)
        try:
            ids = [place(shop, PLENTY[i].id)["order_id"] for i in range(10)]
            wait_for(lambda: len(sent(shop, "email")) == 10, what="10 emails")
            shop.start("sms")
            wait_for(lambda: len(sent(shop, "sms")) == 10, what="10 SMS from a late start")
            assert sorted(s["order_id"] for s in sent(shop, "sms")) == sorted(ids)
            offsets = {o["publisher"]: o["last_seq"] for o in shop.call("sms", "offsets")["items"]}
            assert offsets == {"orders": 20}  # 10 placed + 10 confirmed, all applied
        finally:
            shop.close()
