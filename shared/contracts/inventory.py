"""inventory: stock levels."""

from __future__ import annotations

from .base import Method, Params, ProductId, ProductIds, Record
from .contract import contract


class Stock(Record):
    product_id: int
    available: int
    in_stock: bool


class GetStock(Params):
    product_id: ProductId


class GetStocks(Params):
    product_ids: ProductIds


class StockList(Record):
    items: list[Stock]


INVENTORY = contract(
    "inventory",
    "Stock levels per product.",
    Method("get_stock", GetStock, Stock, "Stock of one product.", GetStock(product_id=1),
           ("not_found",), query=True),
    Method("get_many", GetStocks, StockList, "Stock of many products; unknown ids are left out.",
           GetStocks(product_ids=[1, 2, 3]), query=True),
    publishes=("stock.reserved", "stock.rejected"),
    consumes=("order.placed",),
)
