"""S2 part 2 (was bench/degradation.py): what a hung optional service costs the product page.

recommendation is frozen with SIGSTOP (alive, connected, silent: the worst kind of slow)
while one client keeps asking for pages through the real gateway, whose circuit breaker
should skip it after the first timeout. Phases: normal, hung
(for a fixed time, bucketed by seconds since SIGSTOP), then SIGCONT and the time until the
page is complete again, then normal again. In S2 it runs on part 1's platform: the
injected stragglers go on, and the deadline is part 1's.
"""

from __future__ import annotations

import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import HttpSession, Summary, fmt_ms, fmt_ratio, progress, table
from shared.catalog_seed import PRODUCT_COUNT
from shared.messaging.client import CONNECT_GRACE_S
from shared.messaging.sockets import HEARTBEAT_IVL_MS, HEARTBEAT_TIMEOUT_MS

RECOVERY_LIMIT_S = 15.0


@dataclass(frozen=True)
class HungPage:
    since_stop_s: float
    seconds: float
    status: int
    degraded: tuple[str, ...]


@dataclass(frozen=True)
class DegradationResult:
    deadline_ms: int
    hung_seconds: float
    normal: Summary
    normal_errors: int
    hung: list[HungPage]
    recovery_s: float  # from SIGCONT to the first complete page (nan: did not recover)
    pages_until_recovered: int
    recovering: list[HungPage]  # from SIGCONT to the first complete page (for the timeline)
    after: Summary
    after_errors: int


def _timed_pages(session: HttpSession, ids: random.Random, count: int) -> tuple[Summary, int]:
    samples, errors = [], 0
    for _ in range(count):
        start = time.perf_counter()
        ok = session.page_ok(ids.randint(1, PRODUCT_COUNT))
        samples.append(time.perf_counter() - start)
        errors += not ok
    return Summary.of(samples), errors


def _hung_page(session: HttpSession, ids: random.Random, stop_at: float) -> HungPage:
    since = time.perf_counter() - stop_at
    start = time.perf_counter()
    status, body = session.get(f"/api/products/{ids.randint(1, PRODUCT_COUNT)}")
    degraded = tuple(body.get("degraded", ())) if isinstance(body, dict) else ()
    return HungPage(since, time.perf_counter() - start, status, degraded)


def run(url: str, send_signal: Callable[[str, int], None], deadline_ms: int, requests: int,
        hung_seconds: float) -> DegradationResult:
    ids = random.Random(3)
    session = HttpSession(url)
    stopped = False
    try:
        for _ in range(10):  # warm-up: every connection made, every cache warm
            session.page_ok(ids.randint(1, PRODUCT_COUNT))
        progress(f"hung service: {requests} normal pages")
        normal, normal_errors = _timed_pages(session, ids, requests)

        progress(f"hung service: SIGSTOP recommendation, pages for {hung_seconds:.0f} s")
        send_signal("recommendation", signal.SIGSTOP)
        stopped = True
        stop_at = time.perf_counter()
        hung: list[HungPage] = []
        while time.perf_counter() - stop_at < hung_seconds:
            hung.append(_hung_page(session, ids, stop_at))

        progress("hung service: SIGCONT recommendation, waiting for complete pages")
        send_signal("recommendation", signal.SIGCONT)
        stopped = False
        resumed_at = time.perf_counter()
        recovery, recovering = math.nan, []
        while time.perf_counter() - resumed_at < RECOVERY_LIMIT_S:
            page = _hung_page(session, ids, stop_at)
            recovering.append(page)
            if page.status == 200 and page.degraded == ():
                recovery = time.perf_counter() - resumed_at
                break
        progress(f"hung service: {requests} pages after recovery")
        after, after_errors = _timed_pages(session, ids, requests)
    finally:
        if stopped:
            send_signal("recommendation", signal.SIGCONT)
        session.close()
    return DegradationResult(deadline_ms, hung_seconds, normal, normal_errors, hung, recovery,
                             len(recovering), recovering, after, after_errors)


def _summary_row(label: str, summary: Summary, errors: int) -> list[str]:
    return [label, str(summary.count), fmt_ms(summary.median_ms), fmt_ms(summary.p95_ms),
            f"{summary.count - errors}/{summary.count}"]


def _hung_row(label: str, pages: list[HungPage]) -> list[str]:
    good = sum(p.status == 200 and p.degraded == ("recommendation",) for p in pages)
    return _summary_row(label, Summary.of([p.seconds for p in pages]), len(pages) - good)


def _dropped_at(result: DegradationResult) -> float | None:
    """Seconds after SIGSTOP of the first hung page that did not wait out the deadline
    (S2's deadline is a few pages' worth, so "fast" is under it, not under half of it)."""
    fast = [p.since_stop_s for p in result.hung if p.seconds * 1000 < result.deadline_ms]
    return min(fast) if fast else None


def render(result: DegradationResult) -> str:
    dropped = _dropped_at(result)
    split = math.inf if dropped is None else dropped
    early = [p for p in result.hung if p.since_stop_s < split]
    late = [p for p in result.hung if p.since_stop_s >= split]
    normal, after = result.normal, result.after
    rows = [
        _summary_row("normal (all services up)", normal, result.normal_errors),
        _hung_row("hung, until the first fast page" if late else "hung", early),
        *([_hung_row(f"hung, from the first fast page ({split:.1f} s after SIGSTOP) on",
                     late)] if late else []),
        _hung_row("hung, whole window", result.hung),
        _summary_row("after SIGCONT and recovery", after, result.after_errors),
    ]
    window = max((p.since_stop_s for p in result.hung), default=0.0)
    buckets = []
    for second in range(int(window) + 1):
        pages = [p for p in result.hung if second <= p.since_stop_s < second + 1]
        if pages:
            buckets.append(_hung_row(f"{second}-{second + 1} s", pages))
    return "\n\n".join([
        f"One client, keep-alive, through the gateway with PAGE_DEADLINE_MS="
        f"{result.deadline_ms}; recommendation frozen with SIGSTOP for "
        f"{result.hung_seconds:g} s, then SIGCONT. Times per page in ms. \"As expected\" means 200 "
        f"with every section except recommendation (hung phases) or a complete page "
        f"(normal phases), so a straggler the deadline cut counts against it; a fast page is "
        f"one that did not wait out the deadline. The gateway's ZMTP "
        f"heartbeats (shared/messaging/sockets.py): "
        f"PING every {HEARTBEAT_IVL_MS} ms, a connection with no traffic for "
        f"{HEARTBEAT_TIMEOUT_MS} ms after a PING is dropped.",
        table(["phase", "pages", "median ms", "p95 ms", "as expected"], rows),
        "The hung window by seconds since SIGSTOP:",
        table(["since SIGSTOP", "pages", "median ms", "p95 ms", "as expected"], buckets),
        _meaning(result, early, late, dropped),
    ])


def _meaning(result: DegradationResult, early: list[HungPage], late: list[HungPage],
             dropped: float | None) -> str:
    normal = result.normal.median_ms
    first = Summary.of([p.seconds for p in early]).median_ms
    text = (f"Until the first fast page, {len(early)} page(s) waited for the hung service "
            f"until the deadline: {fmt_ms(first)} ms at the median instead of "
            f"{fmt_ms(normal)} ms ({fmt_ratio(first, normal)}), and still answered without "
            f"recommendations.")
    if dropped is None:
        text += (f" No page got faster during the {result.hung_seconds:g} s window: the "
                 f"circuit breaker did not open.")
    else:
        later = Summary.of([p.seconds for p in late]).median_ms
        text += (f" From {dropped:.1f} s after SIGSTOP on, recommendation's circuit was open "
                 f"(shared/messaging/replicas.py: opened by a timeout, shared by the "
                 f"gateway's threads) and pages skipped it at once: {fmt_ms(later)} ms per "
                 f"page at the median ({fmt_ratio(later, normal)} of normal), recommendation "
                 f"degraded and named. Without the breaker each page waited out the deadline "
                 f"until the heartbeat dropped the silent connection "
                 f"({HEARTBEAT_TIMEOUT_MS / 1000:g} s), then {CONNECT_GRACE_S * 1000:.0f} ms of "
                 f"connect grace per page.")
    if math.isnan(result.recovery_s):
        text += f" Complete pages did not come back within {RECOVERY_LIMIT_S:.0f} s of SIGCONT."
    else:
        text += (f" After SIGCONT the first complete page came {result.recovery_s * 1000:.0f} ms "
                 f"later ({result.pages_until_recovered} page(s) asked): a background probe "
                 f"closed the circuit.")
    return text
