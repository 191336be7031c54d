"""What email and sms both promise: one notification per order outcome, listed and announced.

Their suites set RECIPIENT (where the customer of order 1 is reached) and serve order 1's
order.confirmed through the stub (UPSTREAM).
"""

from __future__ import annotations

import pytest

from .wire import Wire


class TestOneNotificationPerOrder:
    def test_order_1_got_one_confirmation_to_its_customer(
            self, wire: Wire, request: pytest.FixtureRequest) -> None:
        sent = wire.result("list_sent", {"order_id": 1})
        assert sent["total"] == 1, sent
        (item,) = sent["items"]
        assert (item["kind"], item["recipient"]) == ("confirmation", request.module.RECIPIENT)

    def test_an_order_without_notifications_lists_none(self, wire: Wire) -> None:
        assert wire.result("list_sent", {"order_id": 999_999}) == {"items": [], "total": 0}

    def test_the_sent_notification_is_announced_once(self, wire: Wire) -> None:
        (item,) = wire.result("list_sent", {"order_id": 1})["items"]
        events = wire.result("fetch_events", {"after": 0})["events"]
        assert [(e["topic"], e["payload"]["notification_id"]) for e in events] == [
            ("notification.sent", item["id"])]
