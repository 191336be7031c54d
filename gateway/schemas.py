"""The storefront API's response shapes, built from the service contracts (one source)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.contracts.discount import Promotion
from shared.contracts.product import Category, Product

PositiveId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class Money(msgspec.Struct, frozen=True):
    amount: int
    currency: str


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
