"""product's provider contract: the generated checks, plus what catalog answers mean."""

from __future__ import annotations

from .provider import (  # noqa: F401 - generated from SERVICES["product"], collected here
    TestConsumersFindWhatTheyRead,
    TestDocumentedErrors,
    TestExampleRequestsAnswerPerSchema,
    TestHealthListsTheContract,
    TestInvalidParamsAreRefused,
    TestProtocolErrors,
)
from .wire import Wire

SERVICE = "product"


class TestGetManyKeepsOrder:
    def test_keeps_the_order_asked_and_leaves_out_unknown_ids(self, wire: Wire) -> None:
        items = wire.result("get_many", {"ids": [3, 999_999, 1, 2]})["items"]
        assert [p["id"] for p in items] == [3, 1, 2]


class TestListPageSize:
    def test_page_size_100_is_allowed(self, wire: Wire) -> None:
        page = wire.result("list", {"page_size": 100})
        assert (page["page_size"], len(page["items"])) == (100, 100)

    def test_page_size_101_is_bad_params(self, wire: Wire) -> None:
        assert wire.error("list", {"page_size": 101}) == "bad_params"

    def test_consecutive_pages_continue_without_overlap(self, wire: Wire) -> None:
        first = wire.result("list", {"page": 1, "page_size": 5})["items"]
        second = wire.result("list", {"page": 2, "page_size": 5})["items"]
        both = wire.result("list", {"page": 1, "page_size": 10})["items"]
        assert [p["id"] for p in first + second] == [p["id"] for p in both]


class TestListFilters:
    def test_category_filter_keeps_that_category_and_totals_its_count(self, wire: Wire) -> None:
        counts = {c["name"]: c["product_count"] for c in wire.result("categories")["items"]}
        page = wire.result("list", {"category": "Books", "page_size": 100})
        assert {p["category"] for p in page["items"]} == {"Books"}
        assert page["total"] == counts["Books"]

    def test_unfiltered_total_is_the_sum_of_category_counts(self, wire: Wire) -> None:
        counts = [c["product_count"] for c in wire.result("categories")["items"]]
        assert wire.result("list", {})["total"] == sum(counts)

    def test_search_by_full_name_finds_that_product_ignoring_case(self, wire: Wire) -> None:
        product = wire.result("get", {"id": 1})
        page = wire.result("list", {"q": product["name"].upper()})
        assert [p["id"] for p in page["items"]] == [1] and page["total"] == 1
