"""S2 part 1: the product page while every service is a little slow and now and then slow.

Four arms over the same five service processes (bench/s2_stragglers/serve.py injects the
latency), one page at a time and at most one page every `interval` (steady traffic: an open
circuit costs the pages that arrive while it is open, not as many as a tight loop can fail),
interleaved round by round in a rotating order:

- HTTP: the product page as the platform makes it, through the real gateway (five calls at
  once, PAGE_DEADLINE_MS per call, product required, the other sections degrade);
- AT_ONCE: the same five calls with RpcClient.gather and the same deadline, straight from
  this process: the like-for-like reference of the two baselines, which the gateway has no
  switch for;
- IN_TURN: the same client calling the five one after another, each with the deadline;
- NO_DEADLINE: five at once, waiting for every reply.

Each direct arm has its own RpcClient and so its own circuit breakers, as a gateway would.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import HttpSession, page_calls, progress
from gateway.errors import RPC_STATUS
from shared.catalog_seed import PRODUCT_COUNT
from shared.messaging import Call, Outcome, RpcClient

HTTP = "(a) page over HTTP, deadline"
AT_ONCE = "(a') fan-out, deadline"
IN_TURN = "(b) in turn, deadline per call"
NO_DEADLINE = "(c) fan-out, no deadline"
ARMS = (HTTP, AT_ONCE, IN_TURN, NO_DEADLINE)
OPTIONAL = ("inventory", "pricing", "discount", "recommendation")  # after product, in order
WAIT_MS = 1000  # "no deadline": far beyond any injected delay
SETTLE_S = 0.05  # between arms: a straggler one arm gave up on finishes before the next


@dataclass(frozen=True)
class Page:
    seconds: float
    status: int  # 200, or what the gateway answers (503 when product timed out)
    degraded: tuple[str, ...] = ()  # optional sections left out of a 200
    failure: str = ""  # why the page failed: "product timeout", "HTTP 503 ..."
    errors: tuple[str, ...] = ()  # direct arms: each degraded section's error (timeout, ...)


def page_of(outcomes: Sequence[Outcome[Any]], seconds: float) -> Page:
    """What gateway/products.py makes of the five outcomes: product is required (its
    error is the page's, with the gateway's status), every other section degrades."""
    product, *others = outcomes
    if not product.ok:
        return Page(seconds, RPC_STATUS.get(product.error or "", 502), (),
                    f"product {product.error}")
    failed = [(n, o.error or "") for n, o in zip(OPTIONAL, others, strict=True) if not o.ok]
    return Page(seconds, 200, tuple(n for n, _ in failed), "", tuple(e for _, e in failed))


class HttpArm:
    def __init__(self, url: str) -> None:
        self.session = HttpSession(url)

    def __call__(self, product_id: int) -> Page:
        start = time.perf_counter()
        status, body = self.session.get(f"/api/products/{product_id}")
        if status == 0:  # uvicorn closed the keep-alive connection while other arms ran
            status, body = self.session.get(f"/api/products/{product_id}")  # a new one
        seconds = time.perf_counter() - start
        if status == 200 and isinstance(body, dict):
            return Page(seconds, status, tuple(body.get("degraded") or ()))
        code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
        return Page(seconds, status, (), f"HTTP {status} {code}".strip())


class FanOutArm:
    """Five calls at once, one timeout for all of them (the gateway's way)."""

    def __init__(self, client: RpcClient, timeout_ms: int) -> None:
        self.client, self.timeout_ms = client, timeout_ms

    def __call__(self, product_id: int) -> Page:
        start = time.perf_counter()
        outcomes = self.client.gather(page_calls(product_id), self.timeout_ms)
        return page_of(outcomes, time.perf_counter() - start)


class InTurnArm:
    """The five calls one after another, each with the timeout; keeps each call's time
    (a lone call to one service: what "the slowest service" costs on this machine)."""

    def __init__(self, client: RpcClient, timeout_ms: int) -> None:
        self.client, self.timeout_ms = client, timeout_ms
        self.lone: dict[str, list[float]] = {}

    def __call__(self, product_id: int) -> Page:
        outcomes = []
        start = time.perf_counter()
        for call in page_calls(product_id):
            before = time.perf_counter()
            outcomes.append(self.client.gather([call], self.timeout_ms)[0])
            self.lone.setdefault(call.service, []).append(time.perf_counter() - before)
        return page_of(outcomes, time.perf_counter() - start)


@dataclass
class StragglerResult:
    deadline_ms: int
    io_ms: float
    slow_ms: float
    slow_share: float
    warmup: int
    rounds: dict[str, list[list[Page]]] = field(default_factory=dict)  # arm -> per round
    lone: dict[str, list[float]] = field(default_factory=dict)  # service -> lone-call seconds
    interval_ms: float = 0.0  # a page starts at most this often
    sleep_ms: float = 0.0  # what time.sleep(io_ms) takes here, at the median
    health_cost: dict[str, tuple[float, float]] = field(default_factory=dict)
    # service -> (ms of a cached call, ms of the same call right after a `health` call)
    reply_cache: bool = True  # the services' reply cache on (as shipped)

    def pages(self, arm: str) -> list[Page]:
        return [page for one_round in self.rounds[arm] for page in one_round]


def _rotate(arms: Sequence[str], by: int) -> list[str]:
    return [arms[(i + by) % len(arms)] for i in range(len(arms))]


def _medians(result: StragglerResult) -> str:
    return ", ".join(f"{arm.split()[0]} "
                     f"{statistics.median(p.seconds for p in result.rounds[arm][-1]) * 1000:.2f}"
                     for arm in ARMS)


def sleep_cost_ms(io_ms: float, samples: int = 200) -> float:
    """How long time.sleep(io_ms) really takes on this machine (timer slack, wake-up)."""
    taken = []
    for _ in range(samples):
        start = time.perf_counter()
        time.sleep(io_ms / 1000)
        taken.append(time.perf_counter() - start)
    return statistics.median(taken) * 1000


def paced(page: Callable[[int], Page], products: Sequence[int], interval_s: float
          ) -> list[Page]:
    """One page per product, each started `interval_s` after the one before (at once after
    a slower page: a late page is not followed by a burst)."""
    pages, start_at = [], time.perf_counter()
    for product_id in products:
        wait = start_at - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        pages.append(page(product_id))
        start_at = max(start_at + interval_s, time.perf_counter())
    return pages


def health_cost(client: RpcClient, services: Sequence[str], repeats: int = 20
                ) -> dict[str, tuple[float, float]]:
    """Per service: ms of a call its reply cache answers, and of the same call right after a
    `health` call (the circuit breaker's probe)."""
    calls = {call.service: call for call in page_calls(7)}
    cost = {}
    for service in services:
        hit, after = [], []
        for _ in range(repeats):
            client.gather([calls[service]], WAIT_MS)  # cached from here on
            hit.append(_timed(client, calls[service]))
            client.gather([Call(service, "health", {}, Any)], WAIT_MS)
            after.append(_timed(client, calls[service]))
        cost[service] = (statistics.median(hit) * 1000, statistics.median(after) * 1000)
    return cost


def _timed(client: RpcClient, call: Call[Any]) -> float:
    start = time.perf_counter()
    client.gather([call], WAIT_MS)
    return time.perf_counter() - start


def run(url: str, clients: Callable[[], RpcClient], deadline_ms: int, rounds: int,
        pages: int, warmup: int, injected: tuple[float, float, float],
        interval_ms: float) -> StragglerResult:
    """`clients()` makes a new RpcClient (its own breakers) for each direct arm."""
    io_ms, slow_ms, slow_share = injected
    in_turn = InTurnArm(clients(), deadline_ms)
    http = HttpArm(url)
    arms: dict[str, Callable[[int], Page]] = {
        HTTP: http, AT_ONCE: FanOutArm(clients(), deadline_ms), IN_TURN: in_turn,
        NO_DEADLINE: FanOutArm(clients(), WAIT_MS)}
    result = StragglerResult(deadline_ms, io_ms, slow_ms, slow_share, warmup,
                             {arm: [] for arm in ARMS})
    result.interval_ms, result.sleep_ms = interval_ms, sleep_cost_ms(io_ms)
    try:
        progress(f"stragglers: warm-up, every product once, then {warmup} pages per arm")
        for pid in range(1, PRODUCT_COUNT + 1):  # every reply cache filled, as in steady state
            arms[NO_DEADLINE](pid)
        warm = random.Random(1)
        for arm in ARMS:  # connections made, SQLite pages read, the gateway's threads up
            for _ in range(warmup):
                arms[arm](warm.randint(1, PRODUCT_COUNT))
        in_turn.lone.clear()
        for number in range(rounds):
            ids = random.Random(100 + number)  # the same products for every arm of a round
            products = [ids.randint(1, PRODUCT_COUNT) for _ in range(pages)]
            for arm in _rotate(ARMS, number):
                time.sleep(SETTLE_S)
                result.rounds[arm].append(paced(arms[arm], products, interval_ms / 1000))
            progress(f"stragglers: round {number + 1}/{rounds}, p50 ms {_medians(result)}")
    finally:
        http.session.close()
    result.lone = in_turn.lone
    # Last: it empties reply caches on purpose.
    result.health_cost = health_cost(clients(), ("pricing", "recommendation"))
    return result
