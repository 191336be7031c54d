"""recommendation: products to show next to a product (bought together, then similar)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .base import Method, Params, ProductId, Record
from .contract import contract

Limit = Annotated[int, msgspec.Meta(ge=1, le=20)]


class Recommended(Record):
    id: int
    name: str


class Recommend(Params):
    product_id: ProductId
    limit: Limit = 4


class Recommendations(Record):
    product_id: int
    items: list[Recommended]


RECOMMENDATION = contract(
    "recommendation",
    "Products to show beside a product: bought together first, then the same category.",
    Method("recommend", Recommend, Recommendations, "Up to `limit` products, with names.",
           Recommend(product_id=1, limit=4), ("not_found",), query=True),
    consumes=("order.confirmed",),
)
