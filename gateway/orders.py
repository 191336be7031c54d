"""Order routes: place an order (priced here, committed by orders), read it back, list them.

POST prices every item at once (product, pricing and discount in one fan-out), then asks
orders to commit. An Idempotency-Key header makes a retried POST return the same order.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from shared.contracts.discount import DiscountList, GetDiscounts, discounted
from shared.contracts.events import OrderLine
from shared.contracts.orders import (
    GetOrder,
    ListOrders,
    Order,
    OrderAccepted,
    OrderPage,
    PlaceOrder,
)
from shared.contracts.pricing import GetPrices, PriceList
from shared.contracts.product import GetProducts, ProductList
from shared.messaging import Call, RpcError

from .api import documented, json_response, page_deadline_ms, parse, parse_body, required, trace_id
from .clients import rpc
from .errors import RPC_STATUS, ApiError
from .schemas import (
    CreateOrder,
    Money,
    OrderCreated,
    OrderDetail,
    OrderLineDetail,
    OrderListItem,
    OrderListResponse,
    OrderPath,
)

bp = Blueprint("orders", __name__, url_prefix="/api")


def _price_lines(body: CreateOrder) -> tuple[list[OrderLine], str]:
    ids = list(dict.fromkeys(item.product_id for item in body.items))  # a product may recur
    deadline = page_deadline_ms()
    products, prices, discounts = rpc().gather([
        Call("product", "get_many", GetProducts(ids=ids), ProductList),
        Call("pricing", "get_many", GetPrices(product_ids=ids), PriceList),
        Call("discount", "get_many", GetDiscounts(product_ids=ids, code=body.promo_code),
             DiscountList),
    ], deadline, trace_id())
    name_of = {p.id: p.name for p in required(products, "product").items}
    price_of = {p.product_id: p for p in required(prices, "pricing").items}
    promo_of = {d.product_id: d.promotion for d in required(discounts, "discount").items}
    lines = []
    for index, item in enumerate(body.items):
        if item.product_id not in name_of or item.product_id not in price_of:
            raise ApiError(404, "not_found",
                           f"items[{index}].product_id {item.product_id} does not exist")
        price, promotion = price_of[item.product_id], promo_of.get(item.product_id)
        lines.append(OrderLine(product_id=item.product_id, name=name_of[item.product_id],
                               quantity=item.quantity, unit_price=price.amount,
                               final_unit_price=discounted(price.amount, promotion),
                               promotion_id=promotion.id if promotion else None))
    currencies = {price_of[i].currency for i in ids}
    if len(currencies) != 1:
        raise ApiError(422, "validation_error", "items are priced in different currencies")
    return lines, currencies.pop()


@bp.post("/orders")
@documented("Place an order: 201 with the pending order; stock, email and SMS follow "
            "asynchronously. Send an Idempotency-Key header to retry safely.",
            OrderCreated, body=CreateOrder, errors=(400, 404, 409, 413, 415, 422, 503),
            statuses=(201, 200))
def place_order() -> Response:
    body = parse_body(CreateOrder)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 100:
        raise ApiError(400, "bad_request", "Idempotency-Key must be 1 to 100 characters")
    lines, currency = _price_lines(body)
    command = PlaceOrder(customer=body.customer.customer(), lines=lines, currency=currency,
                         idempotency_key=key)
    deadline = int(current_app.config["ZEROSHOP"].order_deadline_ms)
    try:
        accepted: OrderAccepted = rpc().call(
            Call("orders", "place_order", command, OrderAccepted), deadline, trace_id())
    except RpcError as exc:
        if exc.code == "conflict":
            raise ApiError(409, "conflict", exc.message) from None
        if exc.code in ("timeout", "unavailable"):
            hint = " retry with the same Idempotency-Key" if key else ""
            raise ApiError(503, "service_unavailable",
                           f"the orders service did not confirm the order ({exc.code});{hint}"
                           ) from None
        raise
    url = f"/api/orders/{accepted.order_id}"
    response = json_response(OrderCreated(accepted.order_id, accepted.status,
                                          Money(accepted.total, accepted.currency), url),
                             201 if accepted.created else 200)
    response.headers["Location"] = url
    if not accepted.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _detail(order: Order) -> OrderDetail:
    """The order as the API shows it: every amount a Money in the order's currency."""
    lines = [OrderLineDetail(line.product_id, line.name, line.quantity,
                             Money(line.unit_price, order.currency),
                             Money(line.final_unit_price, order.currency), line.promotion_id)
             for line in order.lines]
    return OrderDetail(order.order_id, order.status, order.customer, lines,
                       Money(order.total, order.currency), order.created_at, order.timeline)


@bp.get("/orders/<order_id>")
@documented("One order: lines, totals, status and the timeline of every service's reaction.",
            OrderDetail, path=OrderPath, errors=(400, 404, 503))
def get_order(order_id: str) -> Response:
    oid = parse("path", {"order_id": order_id}, OrderPath).order_id
    deadline = page_deadline_ms()
    outcome = rpc().gather([Call("orders", "get_order", GetOrder(order_id=oid), Order)],
                           deadline, trace_id())[0]
    if outcome.error == "not_found":
        raise ApiError(RPC_STATUS["not_found"], "not_found", f"order {oid} does not exist")
    return json_response(_detail(required(outcome, "orders")))


@bp.get("/orders")
@documented("Orders, newest first; filter by status.", OrderListResponse, query=ListOrders,
            errors=(400, 503))
def list_orders() -> Response:
    query = parse("query", request.args, ListOrders)
    deadline = page_deadline_ms()
    page: OrderPage = rpc().call(Call("orders", "list_orders", query, OrderPage), deadline,
                                 trace_id())
    items = [OrderListItem(o.order_id, o.status, Money(o.total, o.currency), o.created_at)
             for o in page.items]
    return json_response(OrderListResponse(items, page.page, page.page_size, page.total))
