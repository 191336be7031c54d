"""Storefront catalog routes: product list, categories and the product page.

The product page is one fan-out: five calls leave at once with one deadline; product is
required, every other section degrades to null and is named in `degraded`.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from shared.contracts.base import NoParams
from shared.contracts.discount import Discount as DiscountResult
from shared.contracts.discount import DiscountList, GetDiscount, GetDiscounts, Promotion, discounted
from shared.contracts.inventory import GetStock, Stock
from shared.contracts.pricing import GetPrice, GetPrices, Price, PriceList
from shared.contracts.product import CategoryList, GetProduct, ListProducts, Product, ProductPage
from shared.contracts.recommendation import Recommend, Recommendations
from shared.messaging import Call, Outcome

from .api import documented, json_response, page_deadline_ms, parse, required, trace_id
from .clients import rpc
from .errors import RPC_STATUS, ApiError
from .metrics import count_degraded
from .schemas import (
    CategoryListResponse,
    Money,
    ProductListResponse,
    ProductPageResponse,
    ProductPath,
    ProductSummary,
    RecommendedProduct,
    StockSection,
)

bp = Blueprint("products", __name__, url_prefix="/api")


def _money(price: Price | None, promotion: Promotion | None) -> tuple[Money | None, Money | None]:
    if price is None:
        return None, None
    return (Money(price.amount, price.currency),
            Money(discounted(price.amount, promotion), price.currency))


@bp.get("/products")
@documented("Browse the catalog: filter by category, search by name, one page at a time.",
            ProductListResponse, query=ListProducts, errors=(400, 503))
def list_products() -> Response:
    query = parse("query", request.args, ListProducts)
    client = rpc()
    page: ProductPage = client.call(Call("product", "list", query, ProductPage),
                                    page_deadline_ms(), trace_id())
    ids = [p.id for p in page.items]
    prices, discounts = (Outcome(PriceList([])), Outcome(DiscountList([])))
    if ids:
        prices, discounts = client.gather([
            Call("pricing", "get_many", GetPrices(product_ids=ids), PriceList),
            Call("discount", "get_many", GetDiscounts(product_ids=ids), DiscountList),
        ], page_deadline_ms(), trace_id())  # what is left of the same deadline
    degraded = [name for name, o in (("pricing", prices), ("discount", discounts)) if not o.ok]
    count_degraded(degraded)
    price_by_id = {p.product_id: p for p in prices.unwrap().items} if prices.ok else {}
    promo_by_id = ({d.product_id: d.promotion for d in discounts.unwrap().items}
                   if discounts.ok else {})
    items = [ProductSummary(p.id, p.name, p.category,
                            *_money(price_by_id.get(p.id), promo_by_id.get(p.id)))
             for p in page.items]
    return json_response(ProductListResponse(items, page.page, page.page_size, page.total,
                                             degraded))


@bp.get("/categories")
@documented("Every category and how many products it has.", CategoryListResponse, errors=(503,))
def list_categories() -> Response:
    result: CategoryList = rpc().call(Call("product", "categories", NoParams(), CategoryList),
                                      page_deadline_ms(), trace_id())
    return json_response(CategoryListResponse(result.items))


@bp.get("/products/<product_id>")
@documented("The product page: product, stock, price, promotion, final price and "
            "recommendations in one answer; optional sections degrade to null.",
            ProductPageResponse, path=ProductPath, errors=(400, 404, 503))
def product_page(product_id: str) -> Response:
    pid = parse("path", {"product_id": product_id}, ProductPath).product_id
    product, stock, price, discount, recs = rpc().gather([
        Call("product", "get", GetProduct(id=pid), Product),
        Call("inventory", "get_stock", GetStock(product_id=pid), Stock),
        Call("pricing", "get_price", GetPrice(product_id=pid), Price),
        Call("discount", "get_discount", GetDiscount(product_id=pid), DiscountResult),
        Call("recommendation", "recommend", Recommend(product_id=pid, limit=4), Recommendations),
    ], page_deadline_ms(), trace_id())
    if product.error == "not_found":
        raise ApiError(RPC_STATUS["not_found"], "not_found", f"product {pid} does not exist")
    item: Product = required(product, "product")
    sections = {"inventory": stock, "pricing": price, "discount": discount,
                "recommendation": recs}
    degraded = [name for name, outcome in sections.items() if not outcome.ok]
    count_degraded(degraded)
    promotion = discount.unwrap().promotion if discount.ok else None
    base, final = _money(price.value, promotion)
    return json_response(ProductPageResponse(
        product=item,
        inventory=StockSection(stock.unwrap().available, stock.unwrap().in_stock)
        if stock.ok else None,
        price=base,
        discount=promotion,
        final_price=final,
        recommendations=[RecommendedProduct(r.id, r.name) for r in recs.unwrap().items]
        if recs.ok else None,
        degraded=degraded,
    ))
