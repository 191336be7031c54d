"""pricing: base prices in integer minor units."""

from __future__ import annotations

from .base import Currency, Method, MinorUnits, Params, ProductId, ProductIds, Record
from .contract import contract


class Price(Record):
    product_id: int
    amount: MinorUnits
    currency: Currency


class GetPrice(Params):
    product_id: ProductId


class GetPrices(Params):
    product_ids: ProductIds


class PriceList(Record):
    items: list[Price]


PRICING = contract(
    "pricing",
    "Base prices in integer minor units and their currency.",
    Method("get_price", GetPrice, Price, "Price of one product.", GetPrice(product_id=1),
           ("not_found",), query=True),
    Method("get_many", GetPrices, PriceList, "Prices of many products; unknown ids are left out.",
           GetPrices(product_ids=[1, 2, 3]), query=True),
)
