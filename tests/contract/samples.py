"""Valid event payloads built from the contracts' own place_order example, for stubs."""

from __future__ import annotations

from typing import Any

import msgspec

from shared.contracts import SERVICES
from shared.contracts.events import OrderConfirmed, OrderPlaced
from shared.contracts.orders import PlaceOrder

PLACE: PlaceOrder = SERVICES["orders"].methods["place_order"].example  # type: ignore[assignment]
TOTAL = sum(line.final_unit_price * line.quantity for line in PLACE.lines)


def order_placed(order_id: int) -> dict[str, Any]:
    return msgspec.to_builtins(OrderPlaced(order_id=order_id, customer=PLACE.customer,
                                           lines=PLACE.lines, total=TOTAL,
                                           currency=PLACE.currency))


def order_confirmed(order_id: int) -> dict[str, Any]:
    return msgspec.to_builtins(OrderConfirmed(order_id=order_id, customer=PLACE.customer,
                                              lines=PLACE.lines, total=TOTAL,
                                              currency=PLACE.currency))
