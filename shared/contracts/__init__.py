"""The one source of truth for every RPC method (and, later, every event).

Services are checked against these at start; the gateway decodes replies with them; the
OpenAPI document and the contract tests are generated from them.
"""

from .base import COMMON_ERRORS, Health, Method, NoParams, Params, Record, ServiceContract
from .discount import DISCOUNT
from .inventory import INVENTORY
from .pricing import PRICING
from .product import PRODUCT
from .recommendation import RECOMMENDATION

SERVICES: dict[str, ServiceContract] = {
    c.name: c for c in (PRODUCT, INVENTORY, PRICING, DISCOUNT, RECOMMENDATION)
}

__all__ = [
    "COMMON_ERRORS",
    "SERVICES",
    "Health",
    "Method",
    "NoParams",
    "Params",
    "Record",
    "ServiceContract",
]
