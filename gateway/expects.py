"""What the gateway reads of each service and event (checked by `make contracts-check`).

products.py and orders.py read the result fields below; what they return whole to HTTP
clients (a product, a promotion, an order, a page of orders) lists every field. health.py
only needs each service to answer. events.py follows every publisher and reads a few payload
fields per topic for `summary`; the rest of the payload is passed through undecoded.
"""

from shared.config import DEFAULT_PORTS, EVENT_PORTS
from shared.contracttools.expectations import FOLLOWER_READS, Expects

_PROMOTION = ("id", "name", "kind", "value", "scope", "product_id", "category", "code")
_CUSTOMER = ("customer.name", "customer.email", "customer.phone")
_LINES = ("lines[].product_id", "lines[].name", "lines[].quantity", "lines[].unit_price",
          "lines[].final_unit_price", "lines[].promotion_id")
_TIMELINE = ("timeline[].at", "timeline[].service", "timeline[].event", "timeline[].detail")

EXPECTS = Expects(
    consumer="gateway",
    rpc={
        # products.py: GET /api/products, GET /api/categories, GET /api/products/<id>
        "product.list": ["items[].id", "items[].name", "items[].category", "page", "page_size",
                         "total"],
        "product.categories": ["items[].name", "items[].product_count"],
        "product.get": ["id", "name", "category", "description"],
        "inventory.get_stock": ["available", "in_stock"],
        "pricing.get_price": ["amount", "currency"],
        "pricing.get_many": ["items[].product_id", "items[].amount", "items[].currency"],
        "discount.get_discount": [f"promotion.{f}" for f in _PROMOTION],
        "discount.get_many": ["items[].product_id", "items[].promotion.id",
                              "items[].promotion.kind", "items[].promotion.value"],
        "recommendation.recommend": ["items[].id", "items[].name"],
        # orders.py: POST /api/orders (prices the lines first), GET /api/orders[/<id>]
        "product.get_many": ["items[].id", "items[].name"],
        "orders.place_order": ["order_id", "status", "total", "currency", "created"],
        "orders.get_order": ["order_id", "status", *_CUSTOMER, *_LINES, "total", "currency",
                             "created_at", *_TIMELINE],
        "orders.list_orders": ["items[].order_id", "items[].status", "items[].total",
                               "items[].currency", "items[].created_at", "page", "page_size",
                               "total"],
        # health.py: GET /readyz
        **{f"{name}.health": [] for name in DEFAULT_PORTS},
        # events.py: GET /api/events
        **{f"{name}.fetch_events": [*FOLLOWER_READS, "events[].publisher"]
           for name in EVENT_PORTS},
    },
    errors={"product.get": ["not_found"], "orders.get_order": ["not_found"],
            "orders.place_order": ["conflict"]},
    events={  # events.py: summary()
        "order.placed": ["order_id", "lines[].quantity", "total", "currency"],
        "stock.reserved": ["order_id"],
        "stock.rejected": ["order_id", "reason"],
        "order.confirmed": ["order_id"],
        "order.rejected": ["order_id"],
        "notification.sent": ["order_id", "channel", "kind", "recipient"],
    },
)
