"""product: the catalog (products and categories)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .base import Method, NoParams, Params, ProductId, ProductIds, Record
from .contract import contract

PageNumber = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
PageSize = Annotated[int, msgspec.Meta(ge=1, le=100)]
SearchText = Annotated[str, msgspec.Meta(max_length=100)]


class Product(Record):
    id: int
    name: str
    category: str
    description: str


class GetProduct(Params):
    id: ProductId


class GetProducts(Params):
    ids: ProductIds


class ListProducts(Params):
    category: SearchText | None = None
    q: SearchText | None = None
    page: PageNumber = 1
    page_size: PageSize = 20


class ProductList(Record):
    items: list[Product]


class ProductPage(Record):
    items: list[Product]
    page: int
    page_size: int
    total: int


class Category(Record):
    name: str
    product_count: int


class CategoryList(Record):
    items: list[Category]


PRODUCT = contract(
    "product",
    "The catalog: products and categories.",
    Method("get", GetProduct, Product, "One product by id.", GetProduct(id=1), ("not_found",),
           query=True),
    Method("get_many", GetProducts, ProductList, "Products by ids; unknown ids are left out.",
           GetProducts(ids=[1, 2, 3]), query=True),
    Method("list", ListProducts, ProductPage, "One page of products, by category and name.",
           ListProducts(category="Books", q="a", page=1, page_size=5), query=True),
    Method("categories", NoParams, CategoryList, "Every category with its product count.",
           NoParams(), query=True),
)
