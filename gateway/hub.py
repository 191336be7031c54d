"""The event hub: one follower of the bus for every open event stream of the gateway.

It follows the four publishers with one Follower (offsets in memory, the same catch-up
logic as the service consumers) in its own thread, keeps the latest HISTORY_KEPT events
of each publisher, and hands every event, as Server-Sent Event text made once, to every
open stream on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from shared.contracts.bus import Envelope, EventBatch, FetchEvents
from shared.events.follow import Follower, Source
from shared.messaging import Call, Keyring, RpcClient, new_context

from .events import HISTORY_KEPT, sse

log = logging.getLogger("zeroshop.gateway")
BACKLOG_LIMIT = 10_000  # events waiting for one slow stream before it is ended
SYNC_TIMEOUT_S = 10.0  # the longest a new stream waits for the hub to catch up


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

    def __init__(self, sources: Mapping[str, Source], loop: asyncio.AbstractEventLoop,
                 keys: Keyring | None = None) -> None:
        self._sources = dict(sources)
        self._loop = loop
        self._keys = keys  # CURVE: the gateway's keypair and the publishers' public keys
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
        ctx = new_context(self._keys)
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
