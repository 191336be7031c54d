"""pricing's provider contract: the generated checks, plus what price answers mean."""

from __future__ import annotations

from .provider import (  # noqa: F401 - generated from SERVICES["pricing"], collected here
    TestConsumersFindWhatTheyRead,
    TestDocumentedErrors,
    TestExampleRequestsAnswerPerSchema,
    TestHealthListsTheContract,
    TestInvalidParamsAreRefused,
    TestProtocolErrors,
)
from .wire import Wire

SERVICE = "pricing"


class TestGetManyKeepsOrder:
    def test_keeps_the_order_asked_and_leaves_out_unknown_ids(self, wire: Wire) -> None:
        items = wire.result("get_many", {"product_ids": [3, 999_999, 1, 2]})["items"]
        assert [p["product_id"] for p in items] == [3, 1, 2]

    def test_only_unknown_ids_give_an_empty_list_not_an_error(self, wire: Wire) -> None:
        assert wire.result("get_many", {"product_ids": [999_998, 999_999]}) == {"items": []}


class TestGetPrice:
    def test_agrees_with_get_many(self, wire: Wire) -> None:
        [many] = wire.result("get_many", {"product_ids": [7]})["items"]
        assert many == wire.result("get_price", {"product_id": 7})

    def test_amount_is_integer_minor_units_of_the_product_asked(self, wire: Wire) -> None:
        price = wire.result("get_price", {"product_id": 1})
        assert price["product_id"] == 1
        assert isinstance(price["amount"], int) and price["amount"] > 0
