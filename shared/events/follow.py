"""Following publishers without losing or repeating an event (the zguide's Clone pattern).

Live events arrive on SUB; each carries its publisher's sequence number. A sequence at or
below the last applied one is a duplicate and is skipped; one further ahead reveals a gap,
and a heartbeat ahead of us reveals lost events: both make us fetch "events after N" from
the publisher's ROUTER until caught up. Used by service consumers (offsets in their
database) and by live views such as the gateway's event stream (offsets in memory).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from shared.contracts.bus import Envelope, EventBatch, FetchEvents
from shared.contracts.events import HEARTBEAT
from shared.messaging import Call, Context, RpcClient, RpcError, Subscribers

from .relay import Heartbeat

log = logging.getLogger("zeroshop.follow")
_envelope = msgspec.json.Decoder(Envelope)
_heartbeat = msgspec.json.Decoder(Heartbeat)

# apply(publisher, envelope) -> True when applied (the offset moves on), False to retry later.
Apply = Callable[[str, Envelope], bool]
# apply_many(publisher, consecutive envelopes) -> how many of them, from the first, are applied.
ApplyMany = Callable[[str, Sequence[Envelope]], int]


@dataclass(frozen=True)
class Source:
    rpc_endpoint: str
    events_endpoint: str


class Follower:
    def __init__(self, ctx: Context, sources: Mapping[str, Source], offsets: dict[str, int],
                 apply: Apply, fetch_limit: int = 200, fetch_timeout_ms: int = 2000,
                 poll_ms: int = 0, apply_many: ApplyMany | None = None) -> None:
        self.offsets = offsets
        # Each publisher's newest sequence as far as we know (heartbeats, events, fetches).
        self.latest: dict[str, int] = dict(offsets)
        self._apply = apply
        # Runs of consecutive events go to apply_many when given (a consumer's group commit).
        self._apply_many = apply_many or self._one_at_a_time
        self._limit = fetch_limit
        self._timeout_ms = fetch_timeout_ms
        # poll_ms > 0: no PUB/SUB at all, just "events after N" every poll_ms (same guarantee,
        # more latency; measured in docs/BENCHMARKS.md).
        self._poll_ms = poll_ms
        self._sources = set(sources)
        live = {} if poll_ms else {n: s.events_endpoint for n, s in sources.items()}
        self._subs = Subscribers(ctx, live)
        self._rpc = RpcClient(ctx, {n: s.rpc_endpoint for n, s in sources.items()})
        self.behind: set[str] = set(sources)  # catch up with everyone on start
        self._away: set[str] = set()  # publishers whose last fetch failed (logged once)

    def step(self, timeout_ms: int = 1000) -> None:
        """Catch up where behind, then handle what arrives within `timeout_ms`."""
        if self._poll_ms:
            self.behind |= self._sources
        for publisher in sorted(self.behind):
            if self.catch_up(publisher):
                self.behind.discard(publisher)
        if self._poll_ms:
            wait = min(timeout_ms, self._poll_ms)
        else:
            wait = min(timeout_ms, 200) if self.behind else timeout_ms
        runs: dict[str, list[Envelope]] = {}  # what arrived together is applied together
        for publisher, topic, body in self._subs.poll(wait):
            self._on_message(publisher, topic, body, runs.setdefault(publisher, []))
        for publisher, run in runs.items():
            if run and not self._take(publisher, run):
                self.behind.add(publisher)

    def _on_message(self, publisher: str, topic: str, body: bytes,
                    run: list[Envelope]) -> None:
        try:
            if topic == HEARTBEAT:
                seq = _heartbeat.decode(body).seq
                self._saw(publisher, seq)
                # The relay sends a heartbeat right after the events of its pass: compared
                # with the offset alone (those events not applied yet) it would look like a
                # loss and cost a needless fetch every pass. A run applied short of it marks
                # the publisher behind in step() anyway.
                if seq > (run[-1].seq if run else self.offsets[publisher]):
                    self.behind.add(publisher)
                return
            event = _envelope.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("ignored an undecodable message from %s on %r", publisher, topic)
            return
        self._saw(publisher, event.seq)
        expected = (run[-1].seq if run else self.offsets[publisher]) + 1
        if event.seq < expected:
            return  # a duplicate: already applied
        if event.seq > expected or publisher in self.behind:
            self.behind.add(publisher)  # a gap: fetch brings the missing ones in order
            return
        run.append(event)

    def _saw(self, publisher: str, seq: int) -> None:
        if seq > self.latest.get(publisher, 0):
            self.latest[publisher] = seq

    def lag(self) -> dict[str, int]:
        """Per publisher: how many of its events are not applied yet (as far as we know)."""
        return {p: max(0, self.latest.get(p, seq) - seq) for p, seq in self.offsets.items()}

    def _take(self, publisher: str, events: Sequence[Envelope]) -> bool:
        """Apply consecutive `events`; False if not all of them were applied."""
        applied = self._apply_many(publisher, events)
        if applied:
            self.offsets[publisher] = events[applied - 1].seq
        return applied == len(events)

    def _one_at_a_time(self, publisher: str, events: Sequence[Envelope]) -> int:
        for applied, event in enumerate(events):
            if not self._apply(publisher, event):
                return applied
        return len(events)

    def catch_up(self, publisher: str) -> bool:
        """Fetch and apply until level with the publisher; False if it is away or a handler
        asked to retry."""
        while True:
            call = Call(publisher, "fetch_events",
                        FetchEvents(after=self.offsets[publisher], limit=self._limit), EventBatch)
            try:
                batch = self._rpc.call(call, self._timeout_ms)
            except RpcError as exc:
                if publisher not in self._away:
                    self._away.add(publisher)
                    log.info("cannot fetch from %s yet (%s); retrying", publisher, exc.code)
                return False
            self._away.discard(publisher)
            self._saw(publisher, batch.last_seq)
            # Skip what was applied live while this fetch was on its way.
            run = [e for e in batch.events if e.seq > self.offsets[publisher]]
            if run and (run[0].seq != self.offsets[publisher] + 1 or
                        run[-1].seq - run[0].seq != len(run) - 1 or
                        not self._take(publisher, run)):
                return False
            if not batch.events or self.offsets[publisher] >= batch.last_seq:
                return True

    def close(self) -> None:
        self._subs.close()
        self._rpc.close()
