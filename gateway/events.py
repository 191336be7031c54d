"""GET /api/events: every event on the bus as Server-Sent Events, live.

Each stream follows the four publishers with its own sockets (a Follower with offsets in
memory): recent history first (`history` per publisher), then live events, in sequence
order per publisher, none skipped even when PUB/SUB drops some.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response, current_app, request

from shared.contracts.bus import Envelope, EventBatch, FetchEvents
from shared.events.follow import Follower, Source
from shared.messaging import Call, Keyring, RpcClient, new_context
from shared.money import format_money

from .api import documented, parse
from .errors import ApiError
from .schemas import StreamedEvent

bp = Blueprint("events", __name__, url_prefix="/api")
KEEPALIVE_S = 15.0
STREAM_RETRY_AFTER_S = 5  # when every stream slot is taken: a capacity refusal, not an outage


class EventsQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    history: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 10  # latest events per publisher
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


def _sse(event: Envelope) -> str:
    payload = json.loads(bytes(event.payload))
    body = StreamedEvent(publisher=event.publisher, seq=event.seq, id=event.id,
                         topic=event.topic, version=event.version,
                         occurred_at=event.occurred_at, summary=summary(event.topic, payload),
                         payload=payload, trace=event.trace)
    return (f"id: {event.publisher}:{event.seq}\nevent: {event.topic}\n"
            f"data: {msgspec.json.encode(body).decode()}\n\n")


def _latest(client: RpcClient, publishers: list[str], timeout_ms: int) -> dict[str, int | None]:
    outcomes = client.gather([Call(p, "fetch_events", FetchEvents(after=0, limit=1), EventBatch)
                              for p in publishers], timeout_ms)
    return {p: o.unwrap().last_seq if o.ok else None
            for p, o in zip(publishers, outcomes, strict=True)}


def stream(sources: dict[str, Source], history: int, follow: bool,
           keys: Keyring | None = None) -> Iterator[str]:
    ctx = new_context(keys)
    client = RpcClient(ctx, {p: s.rpc_endpoint for p, s in sources.items()})
    latest = _latest(client, sorted(sources), 2000)
    client.close()
    # A publisher that is away starts from 0 with no history: we cannot know its end yet.
    offsets = {p: max(0, seq - history) if seq is not None else 0 for p, seq in latest.items()}
    ready: list[Envelope] = []

    def collect(_publisher: str, event: Envelope) -> bool:
        ready.append(event)
        return True

    follower = Follower(ctx, sources, offsets, collect)
    try:
        yield ": zeroshop event stream\n\n"
        last_write = time.monotonic()
        while True:
            follower.step(1000)
            for event in sorted(ready, key=lambda e: e.occurred_at):  # interleave publishers
                yield _sse(event)
                last_write = time.monotonic()
            ready.clear()
            if not follow:
                return  # the first step caught up with every publisher that answered
            if time.monotonic() - last_write > KEEPALIVE_S:
                yield ": keep-alive\n\n"  # also how we notice a client that went away
                last_write = time.monotonic()
    finally:
        follower.close()
        ctx.term()


@bp.get("/events")
@documented("Every event as Server-Sent Events: recent history, then live (`follow`).",
            StreamedEvent, query=EventsQuery, errors=(400, 429), stream="text/event-stream")
def events() -> Response:
    query = parse("query", request.args, EventsQuery)
    config = current_app.config["ZEROSHOP"]
    slots: threading.BoundedSemaphore = current_app.extensions["zeroshop.streams"]
    if not slots.acquire(blocking=False):
        raise ApiError(429, "too_many_streams",
                       f"at most {config.max_event_streams} event streams at once; try later",
                       retry_after=STREAM_RETRY_AFTER_S)
    sources = {p: Source(config.endpoints[p], config.events_endpoints[p])
               for p in config.events_endpoints}
    keys = current_app.extensions["zeroshop.clients"].keys  # the stream runs outside the app

    def body() -> Iterator[str]:
        try:
            yield from stream(sources, query.history, query.follow, keys)
        finally:
            slots.release()

    return Response(body(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
