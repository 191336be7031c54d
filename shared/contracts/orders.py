"""orders: places orders and tracks them through their timeline."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .base import Currency, Method, MinorUnits, Params, Record
from .contract import contract
from .events import Customer, OrderLine

OrderStatus = Literal["pending", "confirmed", "rejected"]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
OrderId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class PlaceOrder(Params):
    customer: Customer
    lines: Annotated[list[OrderLine], msgspec.Meta(min_length=1, max_length=50)]
    currency: Currency
    idempotency_key: IdempotencyKey | None = None


class OrderAccepted(Record):
    order_id: int
    status: OrderStatus
    total: MinorUnits
    currency: str
    created: bool  # false when an earlier request with the same idempotency key made it


class TimelineEntry(Record):
    at: str  # ISO 8601, UTC
    service: str
    event: str
    detail: str


class Order(Record):
    order_id: int
    status: OrderStatus
    customer: Customer
    lines: list[OrderLine]
    total: MinorUnits
    currency: str
    created_at: str
    timeline: list[TimelineEntry]


class GetOrder(Params):
    order_id: OrderId


class ListOrders(Params):
    status: OrderStatus | None = None
    page: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1
    page_size: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


class OrderSummary(Record):
    order_id: int
    status: OrderStatus
    total: int
    currency: str
    created_at: str


class OrderPage(Record):
    items: list[OrderSummary]
    page: int
    page_size: int
    total: int


_EXAMPLE_LINE = OrderLine(product_id=3, name="Example", quantity=1, unit_price=1000,
                          final_unit_price=1000)
_EXAMPLE = PlaceOrder(
    customer=Customer(name="Ada Lovelace", email="ada@example.com", phone="+44 20 7946 0000"),
    lines=[_EXAMPLE_LINE], currency="USD")

ORDERS = contract(
    "orders",
    "Places orders (order + event in one transaction) and tracks their timeline.",
    Method("place_order", PlaceOrder, OrderAccepted,
           "Commit a pending order and its order.placed event; idempotent by key.", _EXAMPLE,
           ("conflict",), callers=("gateway", "cli"), group_commit=True),
    Method("get_order", GetOrder, Order, "One order with its lines and timeline.",
           GetOrder(order_id=1), ("not_found",), query=True),
    Method("list_orders", ListOrders, OrderPage, "Orders, newest first.", ListOrders(),
           query=True),
    publishes=("order.placed", "order.confirmed", "order.rejected"),
    consumes=("stock.reserved", "stock.rejected", "notification.sent"),
)
