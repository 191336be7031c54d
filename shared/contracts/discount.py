"""discount: promotions by product, by category and by code."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .base import Method, Params, ProductId, ProductIds, Record
from .contract import contract

PromoCode = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern="^[A-Z0-9-]+$")]


class Promotion(Record):
    id: int
    name: str
    kind: Literal["percent", "amount"]
    value: int  # percent (1..100) or minor units off
    scope: Literal["product", "category", "code"]
    product_id: int | None = None
    category: str | None = None
    code: str | None = None


class Discount(Record):
    product_id: int
    promotion: Promotion | None


class GetDiscount(Params):
    product_id: ProductId
    code: PromoCode | None = None


class GetDiscounts(Params):
    product_ids: ProductIds
    code: PromoCode | None = None


class DiscountList(Record):
    items: list[Discount]


DISCOUNT = contract(
    "discount",
    "Active promotions: the best one that applies to a product (and an optional code).",
    Method("get_discount", GetDiscount, Discount, "The promotion for one product, or null.",
           GetDiscount(product_id=1), query=True),
    Method("get_many", GetDiscounts, DiscountList, "Promotions for many products.",
           GetDiscounts(product_ids=[1, 2, 3]), query=True),
)


def discounted(amount: int, promotion: Promotion | None) -> int:
    """The price after a promotion, never below zero (used by the page and by orders)."""
    if promotion is None:
        return amount
    if promotion.kind == "percent":
        return amount - (amount * promotion.value) // 100
    return max(0, amount - promotion.value)
