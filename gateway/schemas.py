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


# A character of an address: what the contract's `[^@\s]` admits, written so that Python and
# JSON Schema (ECMA-262) agree: Python's `\s` also counts \x1c-\x1f and \x85, ECMA's \ufeff.
_ADDRESS = r"[^@\s\x00-\x20\x7f\x85\ufeff]+"
# (?!\n): Python's `$` also matches before a final newline, ECMA's does not.
EmailAddress = Annotated[str, msgspec.Meta(
    pattern=f"^{_ADDRESS}@{_ADDRESS}\\.{_ADDRESS}(?!\\n)$", max_length=200)]
PhoneNumber = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 ()-]{6,20}(?!\n)$")]


class OrderCustomer(msgspec.Struct, frozen=True):
    """Who orders: the contract's Customer, its patterns as strict in the API as on the wire."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    email: EmailAddress
    phone: PhoneNumber

    def customer(self) -> Customer:
        return Customer(name=self.name, email=self.email, phone=self.phone)


class CreateOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /api/orders body."""

    customer: OrderCustomer
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
