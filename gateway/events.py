"""GET /api/events: every event on the bus as Server-Sent Events, live, to many viewers.

What a stream carries: each event as one Server-Sent Event with a readable summary, recent
history first (`history` per publisher), then live events, in sequence order per
publisher, none skipped even when PUB/SUB drops some. gateway/hub.py follows the bus for
every stream at once; gateway/server.py serves the streams as asyncio tasks.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response

from shared.contracts.bus import Envelope
from shared.money import format_money

from .api import documented
from .errors import ApiError
from .schemas import StreamedEvent

bp = Blueprint("events", __name__, url_prefix="/api")
KEEPALIVE_S = 15.0
HISTORY_KEPT = 1000  # latest events kept per publisher: the most `history` may ask for


class EventsQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    history: Annotated[int, msgspec.Meta(ge=0, le=HISTORY_KEPT)] = 10  # latest per publisher
    follow: bool = True  # false: send the history, then end the stream


def summary(topic: str, payload: dict[str, Any]) -> str:
    """One line a person can read, e.g. `order 7 placed: 3 item(s), 70.79 USD`."""
    order = payload.get("order_id")
    if topic == "order.placed":
        items = sum(line["quantity"] for line in payload["lines"])
        return f"order {order} placed: {items} item(s), " \
               f"{format_money(payload['total'], payload['currency'])}"
    if topic == "stock.reserved":
        return f"stock reserved for order {order}"
    if topic == "stock.rejected":
        return f"stock rejected for order {order}: {payload['reason']}"
    if topic == "order.confirmed":
        return f"order {order} confirmed"
    if topic == "order.rejected":
        return f"order {order} rejected"
    if topic == "notification.sent":
        return f"{payload['channel']} {payload['kind']} sent to {payload['recipient']} " \
               f"for order {order}"
    return topic


def sse(event: Envelope) -> str:
    """The event as one Server-Sent Event: `id` publisher:seq, `event` the topic."""
    payload = json.loads(bytes(event.payload))
    body = StreamedEvent(publisher=event.publisher, seq=event.seq, id=event.id,
                         topic=event.topic, version=event.version,
                         occurred_at=event.occurred_at, summary=summary(event.topic, payload),
                         payload=payload, trace=event.trace,
                         traceparent=event.traceparent)
    return (f"id: {event.publisher}:{event.seq}\nevent: {event.topic}\n"
            f"data: {msgspec.json.encode(body).decode()}\n\n")


@bp.get("/events")
@documented("Every event as Server-Sent Events: recent history, then live (`follow`). "
            "At most GATEWAY_MAX_EVENT_STREAMS at once: beyond, 429 with Retry-After.",
            StreamedEvent, query=EventsQuery, errors=(400, 429), stream="text/event-stream")
def events() -> Response:
    # The route is served by the async server's event hub (gateway/server.py) before Flask
    # sees it; this view holds its documentation, and answers only a bare WSGI host.
    raise ApiError(501, "not_implemented", "event streams are served by `python -m gateway`")
