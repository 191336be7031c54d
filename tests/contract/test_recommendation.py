"""recommendation's provider contract: the generated checks, plus what recommendations mean."""

from __future__ import annotations

from .provider import (  # noqa: F401 - generated from SERVICES["recommendation"], collected here
    TestConsumersFindWhatTheyRead,
    TestDocumentedErrors,
    TestExampleRequestsAnswerPerSchema,
    TestHealthListsTheContract,
    TestInvalidParamsAreRefused,
    TestProtocolErrors,
)
from .samples import order_confirmed
from .wire import Wire

SERVICE = "recommendation"
UPSTREAM = [("order.confirmed", order_confirmed(1))]


class TestRecommend:
    def test_product_1_gets_at_least_four_named_other_products(self, wire: Wire) -> None:
        result = wire.result("recommend", {"product_id": 1})
        ids = [r["id"] for r in result["items"]]
        assert result["product_id"] == 1 and len(ids) >= 4
        assert all(r["name"].strip() for r in result["items"]), result["items"]
        assert 1 not in ids and len(set(ids)) == len(ids), f"self or duplicates in {ids}"

    def test_limit_caps_the_number_of_items(self, wire: Wire) -> None:
        for limit in (1, 2, 20):
            items = wire.result("recommend", {"product_id": 1, "limit": limit})["items"]
            assert 1 <= len(items) <= limit
