"""S2's figures, targets, Markdown section and plot, from what parts 1 and 2 measured."""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import fmt_ms, new_figure, percentile, save_figure, spread, table, verdict

from . import hung
from .stragglers import ARMS, AT_ONCE, HTTP, IN_TURN, NO_DEADLINE, WAIT_MS, Page, StragglerResult

P50_SLACK_MS, P99_SLACK_MS = 0.5, 1.0  # the issue's: slowest service + 0.5, deadline + 1


@dataclass(frozen=True)
class Figures:
    """One arm's pages, pooled over the rounds (ms)."""

    pages: int
    p50: float
    p95: float
    p99: float
    max: float
    degraded: Counter[str]  # section -> pages without it
    failed: Counter[str]  # why -> pages that failed

    @classmethod
    def of(cls, pages: Sequence[Page]) -> Figures:
        ms = [p.seconds * 1000 for p in pages]
        return cls(len(pages), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99),
                   max(ms), Counter(s for p in pages for s in p.degraded),
                   Counter(p.failure for p in pages if p.failure))

    @property
    def failed_count(self) -> int:
        return sum(self.failed.values())


def degraded_pages(pages: Sequence[Page]) -> int:
    return sum(bool(p.degraded) for p in pages)


def complete(pages: Sequence[Page]) -> list[Page]:
    return [p for p in pages if p.status == 200 and not p.degraded]


def _p(pages: Sequence[Page], q: float) -> float:
    if not pages:  # e.g. no complete page in an arm
        return math.nan
    return percentile([p.seconds for p in pages], q) * 1000


def per_round_ratios(result: StragglerResult, arm: str, q: float) -> list[float]:
    """arm's percentile q over AT_ONCE's, round by round (> 1: slower than the fan-out)."""
    return [_p(theirs, q) / _p(ours, q)
            for ours, theirs in zip(result.rounds[AT_ONCE], result.rounds[arm], strict=True)]


def per_round(result: StragglerResult, arm: str, q: float) -> list[float]:
    return [_p(pages, q) for pages in result.rounds[arm]]


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counter.most_common()) or "none"


def arms_table(result: StragglerResult) -> str:
    rows = []
    for arm in ARMS:
        pages = result.pages(arm)
        f = Figures.of(pages)
        versus = [spread(per_round_ratios(result, arm, q)) if arm != AT_ONCE else ""
                  for q in (50, 99)]
        rows.append([arm, str(f.pages), fmt_ms(f.p50), fmt_ms(f.p95), fmt_ms(f.p99),
                     fmt_ms(f.max), str(degraded_pages(pages)), str(f.failed_count), *versus])
    return table(["arm", "pages", "p50 ms", "p95 ms", "p99 ms", "max ms", "degraded pages",
                  "failed pages", f"p50 vs {AT_ONCE}", f"p99 vs {AT_ONCE}"], rows)


def outcomes_table(result: StragglerResult) -> str:
    rows = []
    for arm in ARMS:
        pages = result.pages(arm)
        f = Figures.of(pages)
        errors = Counter(e for p in pages for e in p.errors)
        rows.append([arm, _counts(f.degraded), _counts(errors) if arm != HTTP else "n/a",
                     _counts(f.failed)])
    return table(["arm", "sections left out (pages)", "their errors (direct arms)",
                  "failed pages (why)"], rows)


def lone_calls(result: StragglerResult) -> dict[str, float]:
    """Median ms of one call to each service alone (IN_TURN's calls)."""
    return {service: statistics.median(times) * 1000 for service, times in result.lone.items()}


def time_table(result: StragglerResult) -> tuple[str, float]:
    """Where the page's median goes, step by step; and the slowest lone call (ms)."""
    lone = lone_calls(result)
    slowest = max(lone, key=lone.__getitem__)
    fan_out = _p(complete(result.pages(AT_ONCE)), 50)
    http = _p(complete(result.pages(HTTP)), 50)
    rows = [[f"time.sleep({result.io_ms:g} ms) on this machine (the injected I/O)",
             fmt_ms(result.sleep_ms), fmt_ms(result.sleep_ms - result.io_ms)],
            *[[f"one call alone: {service}", fmt_ms(ms), ""] for service, ms in lone.items()],
            [f"the slowest lone call ({slowest}): its real work, ZeroMQ both ways, the sleep",
             fmt_ms(lone[slowest]), fmt_ms(lone[slowest] - result.sleep_ms)],
            ["five at once (RpcClient.gather, deadline), complete pages", fmt_ms(fan_out),
             fmt_ms(fan_out - lone[slowest])],
            ["the page over HTTP through the gateway, complete pages", fmt_ms(http),
             fmt_ms(http - fan_out)]]
    return table(["step", "p50 ms", "adds ms"], rows), lone[slowest]


def targets(result: StragglerResult) -> list[list[str]]:
    p50_goal = result.io_ms + P50_SLACK_MS
    p99_goal = result.deadline_ms + P99_SLACK_MS
    rows = []
    for arm in (HTTP, AT_ONCE):
        pages = result.pages(arm)
        for q, goal, what in ((50, p50_goal, f"slowest service ({result.io_ms:g} ms) + "
                                             f"{P50_SLACK_MS:g} ms"),
                              (99, p99_goal, f"deadline ({result.deadline_ms} ms) + "
                                             f"{P99_SLACK_MS:g} ms")):
            value = _p(pages, q)
            rows.append([f"p{q}, {arm}", f"<= {goal:g} ms ({what})",
                         f"{fmt_ms(value)} ms (rounds {_range(per_round(result, arm, q))})",
                         verdict(value <= goal)])
    return rows


def _slow_pages(result: StragglerResult, arm: str) -> str:
    goal = result.deadline_ms + P99_SLACK_MS
    slow = [p for p in result.pages(arm) if p.seconds * 1000 > goal]
    kinds = Counter("failed" if p.failure else "degraded" if p.degraded else "complete"
                    for p in slow)
    return f"{len(slow)} ({_counts(kinds)})"


def findings(result: StragglerResult, slowest_lone_ms: float) -> str:
    """What the numbers say, in words built from them (no figure is written by hand)."""
    share = 1 - (1 - result.slow_share) ** 5
    direct = result.pages(AT_ONCE)
    expected = len(direct) * 5 * result.slow_share
    errors = Counter(e for p in direct for e in p.errors)
    failures = Figures.of(direct).failed
    product_failed = sum(n for why, n in failures.items() if why.startswith("product"))
    timeouts = errors.get("timeout", 0) + failures.get("product timeout", 0)
    skipped = errors.get("unavailable", 0) + failures.get("product unavailable", 0)
    http = Figures.of(result.pages(HTTP))
    goal = result.deadline_ms + P99_SLACK_MS
    return "\n\n".join([
        f"A page meets a straggler when any of its five calls is one: "
        f"1 - {1 - result.slow_share:g}^5 = {share * 100:.1f}% of pages. Without the deadline "
        f"({NO_DEADLINE}) those pages wait the whole {result.slow_ms:g} ms, and complete. With "
        f"it the straggling section is cut at {result.deadline_ms} ms and the page answers "
        f"without it ({timeouts} "
        f"timeouts in {AT_ONCE}, where about {expected:.0f} of its {len(direct) * 5} calls "
        f"were injected stragglers: the rest are calls the machine itself made slower than "
        f"the deadline). Each timeout also "
        f"opens that service's circuit (shared/messaging/replicas.py), and because a "
        f"service answers one request at a time (RpcServer.serve: one loop, the sleeping "
        f"handler holds it), the service is still busy with the straggler: the next pages "
        f"skip it at once as `unavailable` ({skipped} in {AT_ONCE}) "
        f"until the `health` probe, queued behind the straggler, is answered: "
        f"{_per(skipped, timeouts)} calls skipped per timeout. So a cut call costs fast "
        f"degraded pages (failed ones, when it is product) instead of one slow complete "
        f"page.",
        f"product is required: when product is the straggler, or its circuit is open after "
        f"one, the page fails; the gateway answers 503 `service_unavailable` "
        f"(gateway/errors.py maps timeout and unavailable to 503). {product_failed} of "
        f"{len(direct)} pages of {AT_ONCE} failed that way ({_counts(failures)}); over "
        f"HTTP {http.failed_count} of {http.pages} ({_counts(http.failed)}).",
        f"Pages slower than {goal:g} ms (the p99 goal): {HTTP} {_slow_pages(result, HTTP)}; "
        f"{AT_ONCE} {_slow_pages(result, AT_ONCE)}. The deadline bounds the RPC wait only: "
        f"over HTTP the gateway's own time (request, Flask view, JSON) comes on top of it. "
        f"The slowest lone call takes {fmt_ms(slowest_lone_ms)} ms at the median, so "
        f"\"slowest service + {P50_SLACK_MS:g} ms\" measured on this machine would be "
        f"{fmt_ms(slowest_lone_ms + P50_SLACK_MS)} ms.",
    ])


def _per(count: int, per: int) -> str:
    return f"{count / per:.1f}" if per else "n/a"


def _probe_sentence(result: StragglerResult) -> str:
    """The breaker's probe is a `health` call: measured to cost the cached replies nothing."""
    measured = "; ".join(f"{service} {fmt_ms(hit)} ms from the cache, {fmt_ms(after)} ms "
                         f"right after a `health` call" for service, (hit, after)
                         in result.health_cost.items())
    with_deadline = _p(result.pages(AT_ONCE), 50)
    without = _p(result.pages(NO_DEADLINE), 50)
    compared = "slower" if with_deadline > without else "not slower"
    # A call after a probe within 20% of a cached one: the cache survived the probe.
    kept = all(after <= hit * 1.2 for hit, after in result.health_cost.values())
    verdict = ("so the probe leaves each service's reply cache as it was" if kept else
               "slower after the probe: look for what the probe drops")
    return (f"At the median, {AT_ONCE} ({fmt_ms(with_deadline)} ms) is {compared} than "
            f"{NO_DEADLINE} ({fmt_ms(without)} ms), which never times out and never probes. "
            f"The probe is a `health` call, which takes no database session: the runtime "
            f"opens no transaction for it and, writing nothing, keeps the reply cache "
            f"(Service._answer). Measured at the end of part 1, one call: {measured}, "
            f"{verdict}. What a cut straggler costs is the circuit it opens, above.")


def render(result: StragglerResult, degraded: hung.DegradationResult, command: str,
           facts: list[tuple[str, str]], plot: Path, report: Path) -> str:
    rounds = len(result.rounds[AT_ONCE])
    per_round_pages = len(result.rounds[AT_ONCE][0]) if rounds else 0
    times, slowest = time_table(result)
    return "\n\n".join([
        "## S2: stragglers and a hung service (bench/s2_stragglers/)",
        f"Reproduce: `make bench-s2` (or `.venv/bin/python -m bench.s2_stragglers`); this "
        f"run: `{command}`. The five page services run as real processes (SQLite in a "
        f"temporary folder, loopback, free ports) through a bench-only launcher "
        f"(bench/s2_stragglers/serve.py) that delays each request a service answers "
        f"with simulated I/O before running the service's own main(): {result.io_ms:g} ms "
        f"per call, {result.slow_ms:g} ms for a seeded {result.slow_share * 100:g}% of calls "
        f"(every request but `health` probes and those already past their deadline, before "
        f"the service's dispatch: a reply from the reply cache pays it too). Nothing in "
        f"shared/, services/ or gateway/ knows of it. {_cache_sentence(result)} The gateway "
        f"runs with "
        f"`PAGE_DEADLINE_MS={result.deadline_ms}`: the platform's default (300 ms) would "
        f"never cut a {result.slow_ms:g} ms straggler, and {result.deadline_ms} ms is the "
        f"lowest the setting takes.",
        "### 1. Stragglers",
        f"One page at a time, at most one every {result.interval_ms:g} ms per arm (steady "
        f"traffic: an open circuit costs the pages that arrive while it is open, not as many "
        f"as a tight loop can fail; a slower page is followed at once); {rounds} rounds of "
        f"{per_round_pages} pages per arm (the same "
        f"random products for every arm of a round), the arms in an order that rotates, "
        f"after {result.warmup} warm-up pages per arm. **{HTTP}**: the product page as the "
        f"platform makes it, over HTTP through the real gateway (keep-alive). **{AT_ONCE}**: "
        f"the same five calls with RpcClient.gather and the same deadline, from the bench "
        f"process, product required as in gateway/products.py: the like-for-like reference "
        f"for the baselines, which the gateway has no switch for. **{IN_TURN}**: the same "
        f"client calling the five one after another, each with the deadline. "
        f"**{NO_DEADLINE}**: five at once, waiting for every reply ({WAIT_MS} ms timeout). "
        f"Each direct arm has its own client and circuit breakers, as its own gateway "
        f"would. vs {AT_ONCE}: the median of per-round ratios (min-max).",
        arms_table(result),
        outcomes_table(result),
        findings(result, slowest),
        "### Where the time goes",
        "The median page, step by step (one call alone: the calls of "
        f"{IN_TURN}, each to a service that was idle):",
        times,
        _probe_sentence(result),
        f"![page latency per arm, and the hung-service timeline]"
        f"({os.path.relpath(plot, report.parent)})",
        "### 2. A hung service",
        hung.render(degraded),
        "### Targets",
        table(["target", "goal", "measured (per-round range)", "result"], targets(result)),
        "### Machine",
        table(["fact", "value"], [[k, v] for k, v in facts]),
        "Client, gateway and all five services share this machine's CPUs; other work on it "
        "adds noise, so compare the arms of this one run with each other.",
    ]) + "\n"


def _cache_sentence(result: StragglerResult) -> str:
    if result.reply_cache:
        return ("The services' reply cache is on, as shipped, and warm (every product opened "
                "once before timing): a call costs its service the injected I/O plus a cached "
                "reply.")
    return ("The services' reply cache is off (`--reply-cache off`, `ZEROSHOP_REPLY_CACHE=0`): "
            "every call also reads SQLite, on top of the injected I/O.")


def plot(result: StragglerResult, degraded: hung.DegradationResult, path: Path) -> None:
    """Left: each arm's page latency CDF (log x). Right: the hung-service timeline."""
    figure, cdf = new_figure(12, 4.4)
    from matplotlib.ticker import ScalarFormatter
    grid = figure.add_gridspec(1, 2)
    cdf.set_subplotspec(grid[0])
    timeline = figure.add_subplot(grid[1])
    for arm in ARMS:
        ms = sorted(p.seconds * 1000 for p in result.pages(arm))
        cdf.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], label=arm)
    cdf.axvline(result.io_ms + P50_SLACK_MS, color="grey", linestyle=":", label="p50 goal")
    cdf.axvline(result.deadline_ms + P99_SLACK_MS, color="black", linestyle="--",
                label="p99 goal")
    cdf.set_xscale("log")
    cdf.xaxis.set_major_formatter(ScalarFormatter())
    cdf.xaxis.set_minor_formatter(ScalarFormatter())  # the 2-9 ms ticks in plain ms too
    cdf.set_xlabel("page latency, ms (log)")
    cdf.set_ylabel("share of pages")
    cdf.set_title("S2: stragglers, page latency per arm")
    cdf.grid(alpha=0.3)
    cdf.legend(fontsize=7, loc="lower right")
    _timeline(timeline, degraded, ScalarFormatter)
    save_figure(figure, path)


def _timeline(axes: Any, degraded: hung.DegradationResult, formatter: Any) -> None:
    """Every page from SIGSTOP to the first complete page after SIGCONT."""
    kinds: dict[str, list[hung.HungPage]] = {"complete": [], "without recommendation": [],
                                             "other (failed, or another section cut)": []}
    names = list(kinds)
    for p in degraded.hung + degraded.recovering:
        complete, hung_only = p.status == 200 and not p.degraded, p.degraded == ("recommendation",)
        kinds[names[0] if complete else names[1] if hung_only else names[2]].append(p)
    for kind, group in kinds.items():
        if group:
            axes.scatter([p.since_stop_s for p in group], [p.seconds * 1000 for p in group],
                         s=4, label=kind)
    axes.axvline(degraded.hung_seconds, color="black", linestyle="--", label="SIGCONT")
    axes.axhline(degraded.deadline_ms, color="grey", linestyle=":", label="deadline")
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(formatter())
    axes.yaxis.set_minor_formatter(formatter())
    axes.set_xlabel("seconds since SIGSTOP of recommendation")
    axes.set_ylabel("page latency, ms (log)")
    axes.set_title("S2: recommendation hung, then woken")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
