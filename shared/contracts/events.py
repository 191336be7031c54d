"""Every event on the bus: its topic, publisher, payload schema and payload version.

Events are facts, named in the past tense. The envelope (publisher, seq, id, occurred_at,
trace, version) is added by the outbox; payloads carry the business fields only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

from .base import Currency, MinorUnits, Record

Quantity = Annotated[int, msgspec.Meta(ge=1, le=100)]


class Event(Record):
    """Base of every event payload."""


class Customer(Record):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    email: Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)]
    phone: Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 ()-]{6,20}$")]


class OrderLine(Record):
    product_id: int
    name: str
    quantity: Quantity
    unit_price: MinorUnits  # base price at order time
    final_unit_price: MinorUnits  # after the promotion, what the customer pays
    promotion_id: int | None = None


class StockLine(Record):
    product_id: int
    quantity: int


class Shortage(Record):
    product_id: int
    requested: int
    available: int


class OrderPlaced(Event):
    order_id: int
    customer: Customer
    lines: list[OrderLine]
    total: MinorUnits
    currency: Currency


class StockReserved(Event):
    order_id: int
    lines: list[StockLine]


class StockRejected(Event):
    order_id: int
    reason: str
    shortages: list[Shortage]


class OrderConfirmed(Event):
    order_id: int
    customer: Customer
    lines: list[OrderLine]
    total: MinorUnits
    currency: Currency


class OrderRejected(Event):
    order_id: int
    customer: Customer
    reason: str


class NotificationSent(Event):
    order_id: int
    channel: Literal["email", "sms"]
    notification_id: int
    recipient: str
    kind: Literal["confirmation", "rejection"]


@dataclass(frozen=True)
class Topic:
    name: str
    payload: type[Event]
    version: int
    publishers: tuple[str, ...]
    summary: str


TOPICS: dict[str, Topic] = {t.name: t for t in (
    Topic("order.placed", OrderPlaced, 1, ("orders",), "An order was committed, pending stock."),
    Topic("order.confirmed", OrderConfirmed, 1, ("orders",), "Stock is reserved for the order."),
    Topic("order.rejected", OrderRejected, 1, ("orders",), "The order cannot be fulfilled."),
    Topic("stock.reserved", StockReserved, 1, ("inventory",), "Every line was reserved."),
    Topic("stock.rejected", StockRejected, 1, ("inventory",), "Short of stock: none reserved."),
    Topic("notification.sent", NotificationSent, 1, ("email", "sms"),
          "A notification left the system (once per order and channel)."),
)}
TOPIC_OF: dict[type[Event], Topic] = {t.payload: t for t in TOPICS.values()}
HEARTBEAT = "_heartbeat"  # not an event: the publisher's latest sequence number
