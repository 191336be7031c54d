"""Benchmark 2: the product page end to end over HTTP, next to its floor and its RPC part.

Three targets, each with 1 and with 4 concurrent clients (threads, one keep-alive
connection or one RpcClient each, never shared):

- GET /healthz:                 HTTP + waitress + Flask, no RPC - the gateway's floor;
- GET /api/products/{id}:       the real product page (HTTP + gateway + five calls at once);
- five calls direct:            RpcClient.gather from this process, no HTTP - the page's RPC part.

Every configuration runs twice (second pass in reverse order) and the two are pooled, so slow
drift on a shared machine does not favour whichever ran first.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import zmq

from shared.catalog_seed import PRODUCT_COUNT
from shared.messaging import RpcClient, new_context

from .common import HttpSession, Summary, fmt_ms, fmt_ratio, page_calls, progress, table

HEALTHZ = "GET /healthz (HTTP floor, no RPC)"
PAGE = "GET /api/products/{id} (full page)"
DIRECT = "5 calls direct (RpcClient.gather, no HTTP)"
TARGETS = (HEALTHZ, PAGE, DIRECT)
CONCURRENCY = (1, 4)
PASSES = 2
WARMUP_PER_CLIENT = 10
TIMEOUT_MS = 1000

Request = Callable[[int], bool]  # product id -> answered completely?
Context = zmq.Context[zmq.Socket[bytes]]


@dataclass(frozen=True)
class Measured:
    requests: int
    seconds: float
    summary: Summary
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class HttpResult:
    requests_per_config: int
    results: dict[tuple[str, int], Measured]


class _Client:
    """What one thread uses to make one kind of request; closed by the same thread."""

    def __init__(self, target: str, url: str, ctx: Context, endpoints: Mapping[str, str]) -> None:
        self._http: HttpSession | None = None
        self._rpc: RpcClient | None = None
        if target == DIRECT:
            self._rpc = RpcClient(ctx, endpoints)
            rpc = self._rpc
            self.request: Request = lambda pid: all(
                o.ok for o in rpc.gather(page_calls(pid), TIMEOUT_MS))
        else:
            self._http = session = HttpSession(url)
            if target == PAGE:
                self.request = session.page_ok
            else:
                self.request = lambda _pid: session.get("/healthz")[0] == 200

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._rpc is not None:
            self._rpc.close()


def _measure(target: str, clients: int, requests: int, url: str, ctx: Context,
             endpoints: Mapping[str, str], seed: int,
             stop: threading.Event) -> tuple[list[float], float, int]:
    """(latencies in seconds, wall time of the timed part, errors) of one configuration."""
    per_client = requests // clients
    ready = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def work(slot: int) -> None:
        client = _Client(target, url, ctx, endpoints)
        ids = random.Random(seed * 100 + slot)
        try:
            for _ in range(WARMUP_PER_CLIENT):
                client.request(ids.randint(1, PRODUCT_COUNT))
            ready.wait()
            for _ in range(per_client):
                if stop.is_set():
                    return
                pid = ids.randint(1, PRODUCT_COUNT)
                start = time.perf_counter()
                ok = client.request(pid)
                latencies[slot].append(time.perf_counter() - start)
                errors[slot] += not ok
        except threading.BrokenBarrierError:
            return
        except BaseException:
            ready.abort()  # never leave the main thread waiting for a client that died
            raise
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(slot,), daemon=True)
               for slot in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=60)
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    finally:
        if any(t.is_alive() for t in threads):  # interrupted: let the threads wind down
            stop.set()
            ready.abort()
            for thread in threads:
                thread.join(timeout=5)
    return [x for per_thread in latencies for x in per_thread], elapsed, sum(errors)


def run(url: str, endpoints: Mapping[str, str], requests: int) -> HttpResult:
    configs = [(target, clients) for target in TARGETS for clients in CONCURRENCY]
    pooled: dict[tuple[str, int], list[tuple[list[float], float, int]]] = {
        config: [] for config in configs}
    ctx = new_context()
    stop = threading.Event()
    try:
        for number in range(PASSES):
            order = configs if number % 2 == 0 else configs[::-1]
            for seed, (target, clients) in enumerate(order, start=number * len(configs)):
                progress(f"http: pass {number + 1}/{PASSES}: {target}, {clients} client(s), "
                         f"{requests} requests")
                pooled[(target, clients)].append(
                    _measure(target, clients, requests, url, ctx, endpoints, seed, stop))
    finally:
        stop.set()
        ctx.term()
    return HttpResult(requests, {config: _pool(runs) for config, runs in pooled.items()})


def _pool(runs: list[tuple[list[float], float, int]]) -> Measured:
    samples = [x for run_samples, _, _ in runs for x in run_samples]
    return Measured(len(samples), sum(seconds for _, seconds, _ in runs), Summary.of(samples),
                    sum(errors for _, _, errors in runs))


def render(result: HttpResult) -> str:
    rows = []
    for target in TARGETS:
        for clients in CONCURRENCY:
            m = result.results[(target, clients)]
            rows.append([target, str(clients), str(m.requests), f"{m.per_second:.0f}",
                         fmt_ms(m.summary.median_ms), fmt_ms(m.summary.p95_ms), str(m.errors)])
    one = {target: result.results[(target, 1)] for target in TARGETS}
    four = {target: result.results[(target, 4)] for target in TARGETS}
    return "\n\n".join([
        f"{result.requests_per_config} requests per configuration and pass, {PASSES} passes "
        f"(pooled: requests/s = all requests / all timed seconds; percentiles over all samples), "
        f"after {WARMUP_PER_CLIENT} warm-up requests per client. Random product "
        f"ids. Errors: non-200 answers, pages with a degraded section, failed calls.",
        table(["target", "clients", "requests", "requests/s", "median ms", "p95 ms", "errors"],
              rows),
        _meaning(one, four),
    ])


def _meaning(one: dict[str, Measured], four: dict[str, Measured]) -> str:
    page, direct, floor = one[PAGE].summary, one[DIRECT].summary, one[HEALTHZ].summary
    scaling = four[PAGE].per_second / one[PAGE].per_second
    if scaling >= 1.5:
        concurrency = "so the gateway and services do overlap concurrent pages"
    else:
        concurrency = ("so extra concurrency mostly queues: clients, gateway and the five "
                       "services all share the same CPUs")
    return (
        f"With one client, a page through the gateway took {fmt_ms(page.median_ms)} ms at the "
        f"median; the same five calls made directly (no HTTP, no Flask) took "
        f"{fmt_ms(direct.median_ms)} ms and the bare HTTP + Flask round trip (/healthz) "
        f"{fmt_ms(floor.median_ms)} ms, so the gateway adds about "
        f"{fmt_ms(page.median_ms - direct.median_ms)} ms per page "
        f"({fmt_ratio(page.median_ms, direct.median_ms)} the direct calls). "
        f"Four concurrent clients moved the page from {one[PAGE].per_second:.0f} to "
        f"{four[PAGE].per_second:.0f} pages/s ({scaling:.2f}x) while its median latency went "
        f"from {fmt_ms(page.median_ms)} to {fmt_ms(four[PAGE].summary.median_ms)} ms, "
        f"{concurrency}.{_direct_note(one[DIRECT], four[DIRECT])}"
    )


def _direct_note(one: Measured, four: Measured) -> str:
    if four.per_second >= one.per_second * 1.1:
        return ""
    return (f" Four threads making the five calls directly from one process were not "
            f"meaningfully faster than one ({four.per_second:.0f} vs {one.per_second:.0f} "
            f"pages/s): besides the shared CPUs, that client's threads share one Python "
            f"interpreter lock.")
