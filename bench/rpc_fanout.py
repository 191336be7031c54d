"""Benchmark 1: the product page's five RPC calls, all at once versus one after another.

Three variants, same process, same services, same product id in a round, interleaved
round by round (the order rotates each round so no variant always goes first):

- parallel:        RpcClient.gather(five calls) - what the gateway does;
- sequential RPC:  five RpcClient.gather([one call]) in turn - same client code, no overlap;
- sequential REQ:  a plain zmq.REQ socket per service, one call after another - the
                   hello-world baseline, without the client library's bookkeeping.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import zmq

from shared.catalog_seed import PRODUCT_COUNT
from shared.config import PAGE_SERVICES
from shared.messaging import Call, RpcClient, new_context

from .common import (
    Summary,
    cpu_seconds,
    fmt_ms,
    fmt_ratio,
    page_calls,
    progress,
    req_frame,
    table,
)

TIMEOUT_MS = 1000  # generous: nothing here should time out; a timeout is counted as an error
PARALLEL = "parallel: one gather of 5 calls"
SEQ_RPC = "sequential: 5 gathers of 1 call (RpcClient)"
SEQ_REQ = "sequential: plain REQ socket per service"
VARIANTS = (PARALLEL, SEQ_RPC, SEQ_REQ)


class _ReqClients:
    """One zmq.REQ socket per service; a timed-out REQ is closed and replaced (Lazy Pirate)."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoints: Mapping[str, str]) -> None:
        self._ctx, self._endpoints = ctx, dict(endpoints)
        self._sockets = {name: self._connect(name) for name in PAGE_SERVICES}

    def _connect(self, service: str) -> zmq.Socket[bytes]:
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self._endpoints[service])
        return sock

    def call(self, service: str, frame: bytes) -> bool:
        sock = self._sockets[service]
        sock.send(frame)
        if sock.poll(TIMEOUT_MS, zmq.POLLIN):
            return bool(msgspec.json.decode(sock.recv()).get("ok"))
        sock.close(linger=0)
        self._sockets[service] = self._connect(service)
        return False

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close(linger=0)


@dataclass(frozen=True)
class FanoutResult:
    rounds: int
    warmup: int
    summaries: dict[str, Summary]
    errors: dict[str, int]
    service_cpu_ms: dict[str, float]  # per page, averaged over every variant's pages
    client_cpu_ms: float  # the benchmark process, per page, averaged the same way


def run(endpoints: Mapping[str, str], pids: Mapping[str, int], rounds: int, warmup: int,
        seed: int = 1) -> FanoutResult:
    ctx = new_context()
    rpc = RpcClient(ctx, endpoints)
    req = _ReqClients(ctx, endpoints)
    try:
        def parallel(calls: list[Call[Any]]) -> bool:
            return all(o.ok for o in rpc.gather(calls, TIMEOUT_MS))

        def seq_rpc(calls: list[Call[Any]]) -> bool:
            return all([rpc.gather([call], TIMEOUT_MS)[0].ok for call in calls])

        def seq_req(calls: list[Call[Any]]) -> bool:
            return all([req.call(call.service, req_frame(call)) for call in calls])

        runners: dict[str, Callable[[list[Call[Any]]], bool]] = {
            PARALLEL: parallel, SEQ_RPC: seq_rpc, SEQ_REQ: seq_req}
        samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
        errors = dict.fromkeys(VARIANTS, 0)
        ids = random.Random(seed)
        cpu_before: dict[str, float] = {}
        client_before = 0.0
        total = warmup + rounds
        for index in range(total):
            if index == warmup:  # warm-up done: start counting time and CPU
                cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                client_before = time.process_time()
            if index % 100 == 0:
                progress(f"fan-out: round {index}/{total}"
                         f"{' (warm-up)' if index < warmup else ''}")
            calls = page_calls(ids.randint(1, PRODUCT_COUNT))
            shift = index % len(VARIANTS)
            for name in VARIANTS[shift:] + VARIANTS[:shift]:
                start = time.perf_counter()
                ok = runners[name](calls)
                elapsed = time.perf_counter() - start
                if index >= warmup:
                    samples[name].append(elapsed)
                    errors[name] += not ok
        pages = rounds * len(VARIANTS)
        service_cpu = {name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / pages
                       for name, pid in pids.items()}
        client_cpu = (time.process_time() - client_before) * 1000 / pages
    finally:
        rpc.close()
        req.close()
        ctx.term()
    return FanoutResult(rounds, warmup, {n: Summary.of(s) for n, s in samples.items()}, errors,
                        service_cpu, client_cpu)


def render(result: FanoutResult) -> str:
    par = result.summaries[PARALLEL]
    rows = []
    for name in VARIANTS:
        s = result.summaries[name]
        rows.append([name, fmt_ms(s.median_ms), fmt_ms(s.p95_ms),
                     fmt_ratio(s.median_ms, par.median_ms), fmt_ratio(s.p95_ms, par.p95_ms),
                     str(result.errors[name])])
    cpu_rows = [[name, f"{ms:.2f}"] for name, ms in result.service_cpu_ms.items()]
    service_total = sum(result.service_cpu_ms.values())
    cpu_rows.append(["all five services", f"{service_total:.2f}"])
    cpu_rows.append(["benchmark client (this process)", f"{result.client_cpu_ms:.2f}"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    seq = result.summaries[SEQ_RPC]
    speedup = seq.median_ms / par.median_ms if par.median_ms > 0 else float("nan")
    if speedup >= 1.1:
        verdict = (f"Sending the five calls at once made the page **{speedup:.2f}x faster** at "
                   f"the median than the same client making them one after another "
                   f"({fmt_ms(par.median_ms)} ms vs {fmt_ms(seq.median_ms)} ms).")
    else:
        verdict = (f"Sending the five calls at once was **not meaningfully faster** than making "
                   f"them one after another here ({fmt_ms(par.median_ms)} ms vs "
                   f"{fmt_ms(seq.median_ms)} ms, {speedup:.2f}x).")
    floor = (service_total + result.client_cpu_ms) / (cores or 1)
    return "\n\n".join([
        f"{result.rounds} rounds after {result.warmup} warm-up rounds; each round asks for one "
        f"random product id (1..{PRODUCT_COUNT}, fixed seed) with every variant, in an order "
        f"that rotates each round. Time per page, in milliseconds (p95: nearest rank). "
        f"Errors: pages with any failed call (timeout {TIMEOUT_MS} ms).",
        table(["variant", "median ms", "p95 ms", "median vs parallel", "p95 vs parallel",
               "errors"], rows),
        "CPU time per page (from /proc, averaged over all variants' pages):",
        table(["process", "CPU ms per page"], cpu_rows),
        f"{verdict} The parallel page cannot be faster than the CPU it needs divided by the "
        f"cores: the services and this client used about "
        f"{service_total + result.client_cpu_ms:.1f} ms of CPU per page, so on {cores} cores "
        f"the floor is about {floor:.1f} ms; the sequential page instead pays every service's "
        f"wake-up, work and loopback round trip one after another.",
    ])
