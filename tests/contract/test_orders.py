"""orders' provider contract: the generated checks, plus what placing an order promises.

orders runs alone: a stub inventory serves it a poison stock.reserved (its dead letter), and
`prepare` places the orders the examples and the conflict case need.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .provider import (  # noqa: F401 - generated from SERVICES["orders"], collected here
    TestConsumersFindWhatTheyRead,
    TestDocumentedErrors,
    TestExampleRequestsAnswerPerSchema,
    TestHealthListsTheContract,
    TestInvalidParamsAreRefused,
    TestProtocolErrors,
)
from .samples import PLACE, TOTAL
from .wire import Wire

SERVICE = "orders"
KEY = "contract-key"
ORDER: dict[str, Any] = msgspec.to_builtins(PLACE)
ERROR_REQUESTS = {("place_order", "conflict"): {**ORDER, "idempotency_key": KEY,
                                                "currency": "EUR"}}


def prepare(wire: Wire) -> None:
    """Order 1 (get_order's example), then one placed with KEY (the conflict case's)."""
    assert wire.result("place_order", ORDER)["order_id"] == 1
    wire.result("place_order", {**ORDER, "idempotency_key": KEY})


class TestPlaceOrder:
    def test_a_new_order_is_pending_and_totals_the_final_prices(self, wire: Wire) -> None:
        accepted = wire.result("place_order", ORDER)
        assert (accepted["status"], accepted["total"], accepted["created"]) == (
            "pending", TOTAL, True)
        order = wire.result("get_order", {"order_id": accepted["order_id"]})
        assert order["lines"] == ORDER["lines"] and order["customer"] == ORDER["customer"]
        assert [e["event"] for e in order["timeline"]] == ["order.placed"]

    def test_the_same_key_and_body_return_the_same_order(self, wire: Wire) -> None:
        first = wire.result("place_order", {**ORDER, "idempotency_key": "same"})
        again = wire.result("place_order", {**ORDER, "idempotency_key": "same"})
        assert again == {**first, "created": False}

    def test_each_new_order_publishes_order_placed_with_its_id(self, wire: Wire) -> None:
        order_id = wire.result("place_order", ORDER)["order_id"]
        batch = wire.result("fetch_events", {"after": 0, "limit": 1000})
        placed = [e for e in batch["events"] if e["payload"]["order_id"] == order_id]
        assert [e["topic"] for e in placed] == ["order.placed"]


class TestListOrders:
    def test_newest_first_and_filtered_by_status(self, wire: Wire) -> None:
        page = wire.result("list_orders", {"page_size": 100})
        ids = [o["order_id"] for o in page["items"]]
        assert ids == sorted(ids, reverse=True) and page["total"] >= 2
        assert wire.result("list_orders", {"status": "confirmed"})["items"] == []
