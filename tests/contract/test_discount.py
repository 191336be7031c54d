"""discount's provider contract: the generated checks, plus which promotion wins."""

from __future__ import annotations

from typing import Any

from .provider import (  # noqa: F401 - generated from SERVICES["discount"], collected here
    TestConsumersFindWhatTheyRead,
    TestDocumentedErrors,
    TestExampleRequestsAnswerPerSchema,
    TestHealthListsTheContract,
    TestInvalidParamsAreRefused,
    TestProtocolErrors,
)
from .wire import Wire

SERVICE = "discount"
CODE = "WELCOME10"  # the demo catalog's promo code


def _promotion(wire: Wire, product_id: int, code: str | None = None) -> Any:
    result = wire.result("get_discount", {"product_id": product_id, "code": code})
    assert result["product_id"] == product_id
    return result["promotion"]


class TestWhichPromotionApplies:
    def test_product_1_gets_its_product_scope_promotion(self, wire: Wire) -> None:
        promotion = _promotion(wire, 1)
        assert (promotion["scope"], promotion["product_id"]) == ("product", 1)

    def test_a_product_promotion_beats_a_code(self, wire: Wire) -> None:
        assert _promotion(wire, 1, CODE)["scope"] == "product"

    def test_a_code_applies_where_nothing_more_specific_does(self, wire: Wire) -> None:
        items = wire.result("get_many", {"product_ids": list(range(1, 21))})["items"]
        bare = next(d["product_id"] for d in items if d["promotion"] is None)
        assert _promotion(wire, bare, CODE)["code"] == CODE

    def test_an_unknown_product_has_no_promotion_and_is_not_an_error(self, wire: Wire) -> None:
        assert _promotion(wire, 999_999) is None


class TestGetMany:
    def test_answers_every_id_asked_in_order(self, wire: Wire) -> None:
        items = wire.result("get_many", {"product_ids": [3, 999_999, 1]})["items"]
        assert [d["product_id"] for d in items] == [3, 999_999, 1]

    def test_agrees_with_get_discount(self, wire: Wire) -> None:
        items = wire.result("get_many", {"product_ids": [1, 2, 3], "code": CODE})["items"]
        assert [d["promotion"] for d in items] == [_promotion(wire, p, CODE) for p in (1, 2, 3)]

    def test_each_promotion_names_what_it_matched_and_a_sane_value(self, wire: Wire) -> None:
        items = wire.result("get_many", {"product_ids": list(range(1, 101))})["items"]
        for d in (d for d in items if d["promotion"]):
            p = d["promotion"]
            matched = {"product": p["product_id"] == d["product_id"],
                       "category": bool(p["category"]), "code": bool(p["code"])}[p["scope"]]
            sane = 1 <= p["value"] <= 100 if p["kind"] == "percent" else p["value"] > 0
            assert matched and sane, f"product {d['product_id']}: {p}"
