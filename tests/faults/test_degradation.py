"""Fault tests for the product page: kill or hang a service, then check the invariants.

Invariants: an optional section that fails becomes null and is named in `degraded`; the page
still answers 200 within its deadline; a missing product service is a JSON 503, never a hang.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import PAGE_SERVICES

from ..support import Platform, wait_for

DEADLINE_MS = 400
SLACK_S = 1.0  # generous: CI machines are slow, but a hang would take far longer
SECTION_OF = {"inventory": "inventory", "pricing": "price", "discount": "discount",
              "recommendation": "recommendations"}


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Platform]:
    running = Platform(tmp_path, PAGE_SERVICES, PAGE_DEADLINE_MS=str(DEADLINE_MS))
    wait_for(lambda: running.get("/api/products/1")[1]["degraded"] == [], what="a whole page")
    yield running
    running.close()


def timed_page(shop: Platform, product_id: int = 1) -> tuple[float, int, dict]:
    start = time.monotonic()
    status, body = shop.get(f"/api/products/{product_id}")
    return time.monotonic() - start, status, body


class TestOptionalSectionsDegrade:
    @pytest.mark.parametrize("service", list(SECTION_OF))
    def test_a_killed_optional_service_is_named_and_nulled(self, shop: Platform,
                                                           service: str) -> None:
        shop.stop(service, signal.SIGKILL)
        elapsed, status, page = timed_page(shop)
        assert status == 200
        assert page["degraded"] == [service]
        assert page[SECTION_OF[service]] is None
        assert page["product"]["id"] == 1
        if service == "pricing":
            assert page["final_price"] is None
        assert elapsed < DEADLINE_MS / 1000 + SLACK_S

    def test_a_hung_recommendation_costs_at_most_the_deadline(self, shop: Platform) -> None:
        shop.signal("recommendation", signal.SIGSTOP)
        try:
            for product_id in (1, 2, 3):
                elapsed, status, page = timed_page(shop, product_id)
                assert status == 200 and page["degraded"] == ["recommendation"]
                assert page["recommendations"] is None and page["price"] is not None
                assert elapsed < DEADLINE_MS / 1000 + SLACK_S
        finally:
            shop.signal("recommendation", signal.SIGCONT)
        # Woken up, it skips the stale requests (their deadline passed) and serves new ones.
        page = wait_for(lambda: (p := timed_page(shop, 4)[2])["degraded"] == [] and p,
                        what="recommendation to recover")
        assert len(page["recommendations"]) >= 4

    def test_a_hung_service_is_skipped_after_one_deadline_and_used_again_when_it_wakes(
            self, shop: Platform) -> None:
        """Its circuit opens on the first timeout: later pages skip it instead of each
        waiting out the deadline; a background probe closes it once it answers again."""
        shop.signal("recommendation", signal.SIGSTOP)
        try:
            first, status, page = timed_page(shop, 1)
            assert status == 200 and page["degraded"] == ["recommendation"]
            later = [timed_page(shop, n) for n in range(2, 12)]
            assert all(p["degraded"] == ["recommendation"] for _, _, p in later)
            # Skipped, not waited for: every later page is well inside the deadline.
            assert max(elapsed for elapsed, _, _ in later) < DEADLINE_MS / 1000 / 2
        finally:
            shop.signal("recommendation", signal.SIGCONT)
        page = wait_for(lambda: (p := timed_page(shop, 4)[2])["degraded"] == [] and p,
                        timeout=5, what="the woken recommendation to be used again")
        assert len(page["recommendations"]) >= 4

    def test_a_restarted_service_is_used_again(self, shop: Platform) -> None:
        shop.stop("inventory", signal.SIGKILL)
        assert timed_page(shop)[2]["degraded"] == ["inventory"]
        shop.start("inventory")
        page = wait_for(lambda: (p := timed_page(shop)[2])["degraded"] == [] and p,
                        what="the restarted inventory to be used")
        assert page["inventory"]["available"] >= 0


class TestRequiredProduct:
    def test_stopped_product_is_a_json_503(self, shop: Platform) -> None:
        assert shop.stop("product", signal.SIGTERM) == 0  # and SIGTERM exits cleanly
        elapsed, status, body = timed_page(shop)
        assert status == 503
        assert body["error"]["code"] == "service_unavailable"
        assert "product" in body["error"]["message"]
        assert elapsed < DEADLINE_MS / 1000 + SLACK_S
        status, ready = shop.get("/readyz")
        assert status == 503 and ready["services"]["product"] != "ok"
        assert ready["services"]["pricing"] == "ok"

    def test_hung_product_is_a_503_within_the_deadline(self, shop: Platform) -> None:
        shop.signal("product", signal.SIGSTOP)
        try:
            elapsed, status, body = timed_page(shop)
            assert status == 503 and body["error"]["code"] == "service_unavailable"
            assert elapsed < DEADLINE_MS / 1000 + SLACK_S
        finally:
            shop.signal("product", signal.SIGCONT)
