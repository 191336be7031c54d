"""GET /api/events: every event on the bus as Server-Sent Events, live, to many viewers.

One `EventHub` per gateway follows the four publishers with one Follower (offsets in
memory, the same catch-up logic as the service consumers) in one thread, keeps the latest
events of each publisher, and hands every event to every open stream. A stream is an
asyncio task in the HTTP server (gateway/server.py), not a thread: recent history first
(`history` per publisher), then live events, in sequence order per publisher, none skipped
even when PUB/SUB drops some.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response

from shared.contracts.bus import Envelope, EventBatch, FetchEvents
from shared.events.follow import Follower, Source
from shared.messaging import Call, RpcClient, new_context
from shared.money import format_money

from .api import documented
from .errors import ApiError
from .schemas import StreamedEvent

bp = Blueprint("events", __name__, url_prefix="/api")
log = logging.getLogger("zeroshop.gateway")
KEEPALIVE_S = 15.0
HISTORY_KEPT = 1000  # latest events kept per publisher: the most `history` may ask for
BACKLOG_LIMIT = 10_000  # events waiting for one slow stream before it is ended
SYNC_TIMEOUT_S = 10.0  # the longest a new stream waits for the hub to catch up


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
                         payload=payload, trace=event.trace)
    return (f"id: {event.publisher}:{event.seq}\nevent: {event.topic}\n"
            f"data: {msgspec.json.encode(body).decode()}\n\n")


class Subscription:
    """One open stream's queue of SSE texts; touched only on the event loop's thread."""

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.ready = asyncio.Event()
        self.ended = False  # the hub stopped, or this stream fell BACKLOG_LIMIT behind

    def push(self, texts: list[str]) -> None:
        self.pending.extend(texts)
        if len(self.pending) > BACKLOG_LIMIT:
            self.end()
        self.ready.set()

    def take(self) -> str:
        text = "".join(self.pending)
        self.pending.clear()
        self.ready.clear()
        return text

    def end(self) -> None:
        self.ended = True
        self.ready.set()


class EventHub:
    """One follower for every stream: events cross from its thread to the event loop."""

    def __init__(self, sources: Mapping[str, Source], loop: asyncio.AbstractEventLoop) -> None:
        self._sources = dict(sources)
        self._loop = loop
        self._recent: dict[str, deque[tuple[str, str]]] = {
            p: deque(maxlen=HISTORY_KEPT) for p in sources}  # (occurred_at, text)
        self.streams: set[Subscription] = set()
        self._syncs: list[asyncio.Future[None]] = []  # taken by the thread under _lock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
        self._thread.start()

    async def subscribe(self, history: int) -> tuple[Subscription, str]:
        """A new stream and its history, after the hub caught up with every publisher that
        answers (so the history holds every event committed before this call)."""
        done = self._loop.create_future()
        with self._lock:
            self._syncs.append(done)
        try:
            await asyncio.wait_for(asyncio.shield(done), SYNC_TIMEOUT_S)
        except TimeoutError:  # a publisher hung mid-fetch: start with what the hub has
            log.warning("the event hub did not catch up within %s s", SYNC_TIMEOUT_S)
        # On the loop's thread: nothing can be delivered between the snapshot and the add.
        recent = [e for kept in self._recent.values() for e in list(kept)[-history:]
                  ] if history else []
        subscription = Subscription()
        self.streams.add(subscription)
        return subscription, "".join(text for _, text in sorted(recent, key=lambda e: e[0]))

    def unsubscribe(self, subscription: Subscription) -> None:
        self.streams.discard(subscription)

    def _deliver(self, events: list[tuple[str, str, str]],
                 syncs: list[asyncio.Future[None]]) -> None:
        events.sort(key=lambda e: e[1])  # interleave publishers by time
        for publisher, at, text in events:
            self._recent[publisher].append((at, text))
        texts = [text for _, _, text in events]
        if texts:
            for subscription in list(self.streams):
                subscription.push(texts)
        for done in syncs:
            if not done.done():
                done.set_result(None)

    def _run(self) -> None:
        ctx = new_context()
        offsets: dict[str, int] = {}
        follower: Follower | None = None
        batch: list[tuple[str, str, str]] = []
        next_look = 0.0  # when to ask the publishers still away for their ends again

        def collect(publisher: str, event: Envelope) -> bool:
            try:
                batch.append((publisher, event.occurred_at, sse(event)))
            except Exception:  # one odd payload must not stop every stream
                log.exception("cannot show %s#%s (%s) on the event streams",
                              publisher, event.seq, event.topic)
            return True

        try:
            while not self._stop.is_set():
                with self._lock:
                    syncs, self._syncs = self._syncs, []
                if len(offsets) < len(self._sources) and (syncs or time.monotonic() > next_look):
                    # A publisher away at start: follow it from its latest events once it
                    # answers, rather than replay its whole history.
                    next_look = time.monotonic() + 2
                    if self._find_ends(ctx, offsets):
                        if follower is not None:
                            follower.close()
                        follower = Follower(ctx, {p: self._sources[p] for p in offsets},
                                            offsets, collect)
                if follower is None:
                    self._stop.wait(0.2)
                else:
                    if syncs:
                        follower.behind |= set(offsets)
                    follower.step(100)
                if batch or syncs:
                    self._loop.call_soon_threadsafe(self._deliver, batch, syncs)
                    batch = []
        except RuntimeError:
            if not self._stop.is_set():  # the loop closed under us: shutting down
                raise
        finally:
            if follower is not None:
                follower.close()
            ctx.term()

    def _find_ends(self, ctx: Any, offsets: dict[str, int]) -> bool:
        """Start following each publisher that answers at HISTORY_KEPT before its end."""
        missing = sorted(set(self._sources) - set(offsets))
        client = RpcClient(ctx, {p: self._sources[p].rpc_endpoint for p in missing})
        try:
            outcomes = client.gather([Call(p, "fetch_events", FetchEvents(after=0, limit=1),
                                           EventBatch) for p in missing], 1000)
        finally:
            client.close()
        found = {p: o.unwrap().last_seq for p, o in zip(missing, outcomes, strict=True) if o.ok}
        offsets.update({p: max(0, last - HISTORY_KEPT) for p, last in found.items()})
        return bool(found)

    def end_streams(self) -> None:
        """End every open stream (on the loop's thread, at shutdown)."""
        for subscription in list(self.streams):
            subscription.end()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@bp.get("/events")
@documented("Every event as Server-Sent Events: recent history, then live (`follow`). "
            "At most GATEWAY_MAX_EVENT_STREAMS at once: beyond, 429 with Retry-After.",
            StreamedEvent, query=EventsQuery, errors=(400, 429), stream="text/event-stream")
def events() -> Response:
    # The route is served by the async server's event hub (gateway/server.py) before Flask
    # sees it; this view holds its documentation, and answers only a bare WSGI host.
    raise ApiError(501, "not_implemented", "event streams are served by `python -m gateway`")
