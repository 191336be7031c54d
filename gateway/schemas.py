"""The storefront API's response shapes, built from the service contracts (one source)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from shared.contracts.base import Currency, MinorUnits
from shared.contracts.discount import PromoCode, Promotion
from shared.contracts.events import Customer
from shared.contracts.orders import OrderStatus, TimelineEntry
from shared.contracts.product import Category, Product

PositiveId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class Money(msgspec.Struct, frozen=True):
    """Every amount of money the API answers, in this one shape: 7079 USD is $70.79."""

    amount: MinorUnits
    currency: Currency


class StockSection(msgspec.Struct, frozen=True):
    available: int
    in_stock: bool


class RecommendedProduct(msgspec.Struct, frozen=True):
    id: int
    name: str


class ProductSummary(msgspec.Struct, frozen=True):
    id: int
    name: str
    category: str
    price: Money | None
    final_price: Money | None


class ProductListResponse(msgspec.Struct, frozen=True):
    items: list[ProductSummary]
    page: int
    page_size: int
    total: int
    degraded: list[str]


class ProductPageResponse(msgspec.Struct, frozen=True):
    product: Product
    inventory: StockSection | None
    price: Money | None
    discount: Promotion | None
    final_price: Money | None
    recommendations: list[RecommendedProduct] | None
    degraded: list[str]


class CategoryListResponse(msgspec.Struct, frozen=True):
    items: list[Category]


class ProductPath(msgspec.Struct, frozen=True):
    product_id: PositiveId


class ErrorDetail(msgspec.Struct, frozen=True):
    code: str
    message: str


class ErrorResponse(msgspec.Struct, frozen=True):
    error: ErrorDetail


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    services: dict[str, str]


class OrderItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product_id: PositiveId
    quantity: Annotated[int, msgspec.Meta(ge=1, le=100)]


class CreateOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /api/orders body."""

    customer: Customer
    items: Annotated[list[OrderItem], msgspec.Meta(min_length=1, max_length=50)]
    promo_code: PromoCode | None = None


class OrderCreated(msgspec.Struct, frozen=True):
    order_id: int
    status: str
    total: Money
    url: str


class OrderPath(msgspec.Struct, frozen=True):
    order_id: PositiveId


class OrderLineDetail(msgspec.Struct, frozen=True):
    product_id: int
    name: str
    quantity: int
    unit_price: Money  # base price at order time
    final_unit_price: Money  # after the promotion: what the customer pays
    promotion_id: int | None


class OrderDetail(msgspec.Struct, frozen=True):
    """GET /api/orders/{id}."""

    order_id: int
    status: OrderStatus
    customer: Customer
    lines: list[OrderLineDetail]
    total: Money
    created_at: str
    timeline: list[TimelineEntry]


class OrderListItem(msgspec.Struct, frozen=True):
    order_id: int
    status: OrderStatus
    total: Money
    created_at: str


class OrderListResponse(msgspec.Struct, frozen=True):
    items: list[OrderListItem]
    page: int
    page_size: int
    total: int  # orders that match, over every page


class StreamedEvent(msgspec.Struct, frozen=True):
    """The `data` of one Server-Sent Event (whose `id` is publisher:seq, `event` the topic):
    the fields of the event's envelope on the bus, the payload decoded, and a summary."""

    publisher: str
    seq: int
    id: str
    topic: str
    version: int
    occurred_at: str
    summary: str
    payload: dict[str, Any]
    trace: str | None = None
    traceparent: str | None = None
