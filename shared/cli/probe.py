"""What `zeroshop status` shows of each service, asked over its own RPC: whether it answers
and how fast (a health call's round trip), how far each consumer is behind its publishers
(`fetch_events` tells a publisher's last sequence, `offsets` a consumer's), and its dead
letters not yet replayed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from shared.contracts import SERVICES, TOPICS, Health, NoParams
from shared.contracts.bus import (
    DeadLetterList,
    EventBatch,
    FetchEvents,
    ListDeadLetters,
    NoArgs,
    OffsetList,
)
from shared.messaging import Call, RpcClient, new_context

from .common import cli_keys


class ServiceProbe(msgspec.Struct):
    service: str
    endpoint: str
    up: bool
    error: str | None = None  # why it does not answer: timeout, unavailable, ...
    rpc_ms: float | None = None  # the health call's round trip
    lag: dict[str, int] | None = None  # consumers: events per publisher not applied yet
    dead_letters: int | None = None  # consumers: not replayed yet

    @property
    def total_lag(self) -> int | None:
        return None if self.lag is None else sum(self.lag.values())


def _publishers_of(service: str) -> list[str]:
    return sorted({p for t in SERVICES[service].consumes for p in TOPICS[t].publishers})


def probe(endpoints: Mapping[str, str], timeout_ms: int) -> list[ServiceProbe]:
    """Ask every service in `endpoints` at once; one deadline for each of the two rounds."""
    names = list(endpoints)
    took: dict[str, float] = {}

    def timed(service: str, method: str, _outcome: str, seconds: float) -> None:
        if method == "health":
            took[service] = seconds * 1000

    ctx = new_context(cli_keys())
    client = RpcClient(ctx, endpoints, observe=timed)
    try:
        health = client.gather([Call(n, "health", NoParams(), Health) for n in names],
                               timeout_ms)
        probes = {n: ServiceProbe(n, endpoints[n], o.ok, o.error,
                                  round(took[n], 2) if o.ok else None)
                  for n, o in zip(names, health, strict=True)}
        up = [n for n in names if probes[n].up]
        calls: list[tuple[str, str, Call[Any]]] = []
        for name in up:
            if SERVICES[name].publishes:
                calls.append((name, "last", Call(name, "fetch_events",
                                                 FetchEvents(after=0, limit=1), EventBatch)))
            if SERVICES[name].consumes:
                calls.append((name, "offsets", Call(name, "offsets", NoArgs(), OffsetList)))
                calls.append((name, "dead", Call(name, "dead_letters", ListDeadLetters(),
                                                 DeadLetterList)))
        answers = client.gather([c for _, _, c in calls], timeout_ms)
    finally:
        client.close()
        ctx.term()
    got: dict[tuple[str, str], Any] = {
        (name, what): o.value for (name, what, _), o in zip(calls, answers, strict=True) if o.ok}
    for name in up:
        offsets = got.get((name, "offsets"))
        if offsets is not None:
            applied = {o.publisher: o.last_seq for o in offsets.items}
            probes[name].lag = {p: max(0, got[(p, "last")].last_seq - applied.get(p, 0))
                                for p in _publishers_of(name) if (p, "last") in got}
        dead = got.get((name, "dead"))
        if dead is not None:
            probes[name].dead_letters = len(dead.items)
    return [probes[n] for n in names]
