"""email and sms: one notification per order and channel, sent through a pluggable sender."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .base import Method, Params, Record
from .contract import ServiceContract, contract


class SentNotification(Record):
    id: int
    order_id: int
    kind: Literal["confirmation", "rejection"]
    recipient: str
    subject: str
    body: str
    event_id: str  # the idempotency key given to the provider
    sent_at: str


class ListSent(Params):
    order_id: int | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


class SentList(Record):
    items: list[SentNotification]
    total: int


def _notifier(name: str, summary: str) -> ServiceContract:
    return contract(
        name, summary,
        Method("list_sent", ListSent, SentList, "Notifications sent, newest first.", ListSent(),
               query=True),
        publishes=("notification.sent",),
        consumes=("order.confirmed", "order.rejected"),
    )


EMAIL = _notifier("email", "Sends one email per order outcome (confirmed or rejected).")
SMS = _notifier("sms", "Sends one SMS per order outcome (confirmed or rejected).")
