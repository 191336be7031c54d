"""The one source of truth for every RPC method and every event: schemas only.

Services are checked against these at start; the gateway decodes replies with them; the
OpenAPI document and the contract tests are generated from them. The tooling that checks,
exports and documents them lives beside this package, in `shared/contracttools/`.
"""

from .base import COMMON_ERRORS, Health, Method, NoParams, Params, Record
from .contract import ServiceContract
from .discount import DISCOUNT
from .events import TOPIC_OF, TOPICS, Event, Topic
from .inventory import INVENTORY
from .notifications import EMAIL, SMS
from .orders import ORDERS
from .pricing import PRICING
from .product import PRODUCT
from .recommendation import RECOMMENDATION

SERVICES: dict[str, ServiceContract] = {
    c.name: c for c in (PRODUCT, INVENTORY, PRICING, DISCOUNT, RECOMMENDATION, ORDERS, EMAIL, SMS)
}

__all__ = [
    "COMMON_ERRORS",
    "SERVICES",
    "TOPICS",
    "TOPIC_OF",
    "Event",
    "Topic",
    "Health",
    "Method",
    "NoParams",
    "Params",
    "Record",
    "ServiceContract",
]
