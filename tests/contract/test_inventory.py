"""inventory's provider contract: the generated checks, plus what stock answers mean."""

from __future__ import annotations

from .provider import (  # noqa: F401 - generated from SERVICES["inventory"], collected here
    TestConsumersFindWhatTheyRead,
    TestDocumentedErrors,
    TestExampleRequestsAnswerPerSchema,
    TestHealthListsTheContract,
    TestInvalidParamsAreRefused,
    TestProtocolErrors,
)
from .samples import order_placed
from .wire import Wire

SERVICE = "inventory"
UPSTREAM = [("order.placed", order_placed(1))]  # then stock.reserved is fetchable


class TestGetManyKeepsOrder:
    def test_keeps_the_order_asked_and_leaves_out_unknown_ids(self, wire: Wire) -> None:
        items = wire.result("get_many", {"product_ids": [3, 999_999, 1, 2]})["items"]
        assert [s["product_id"] for s in items] == [3, 1, 2]

    def test_agrees_with_get_stock(self, wire: Wire) -> None:
        [many] = wire.result("get_many", {"product_ids": [5]})["items"]
        assert many == wire.result("get_stock", {"product_id": 5})


class TestInStock:
    def test_in_stock_means_something_is_available(self, wire: Wire) -> None:
        items = wire.result("get_many", {"product_ids": list(range(1, 101))})["items"]
        assert len(items) == 100
        wrong = [s for s in items if s["in_stock"] != (s["available"] > 0) or s["available"] < 0]
        assert not wrong, f"in_stock must be available > 0 (and available >= 0): {wrong}"
