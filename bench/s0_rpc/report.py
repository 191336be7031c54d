"""S0's Markdown section, targets and plot, from the parts bench/s0_rpc measured."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..common import new_figure, percentile, save_figure, spread, table, verdict
from .measure import Part
from .profile import Profile

ROUND_TRIP_GOAL, PAGE_GOAL = 0.6, 2.0  # the targets: p50 ratios


@dataclass(frozen=True)
class Target:
    what: str
    goal: float  # the ratio must be at most this
    ratios: list[float]  # one per round

    @property
    def met(self) -> bool:
        return bool(self.ratios) and statistics.median(self.ratios) <= self.goal


@dataclass(frozen=True)
class Result:
    round_trip: Part  # arms: ZeroShop as shipped, ZeroShop cache off, Zero
    page: Part  # arms: gather, sequential, bare fan-out
    rounds: tuple[int, int]  # (round-trip rounds, page rounds)
    per_round: tuple[int, int]  # calls, pages per arm and round
    bare_processes: str  # how the bare servers were laid out
    zero_workers: int
    profiles: list[Profile]  # of the missed targets' arms

    @property
    def shipped(self) -> str:
        return self.round_trip.arms[0]

    @property
    def uncached(self) -> str:
        return self.round_trip.arms[1]

    @property
    def zero(self) -> str:
        return self.round_trip.arms[2]

    @property
    def gather(self) -> str:
        return self.page.arms[0]

    @property
    def sequential(self) -> str:
        return self.page.arms[1]

    @property
    def bare(self) -> str:
        return self.page.arms[2]


def targets(result: Result) -> list[Target]:
    trip, page = result.round_trip, result.page
    return [
        Target(f"one round trip, p50: {result.shipped} / {result.zero}", ROUND_TRIP_GOAL,
               trip.ratios(result.shipped, result.zero)),
        Target(f"one round trip, p50: {result.uncached} / {result.zero}", ROUND_TRIP_GOAL,
               trip.ratios(result.uncached, result.zero)),
        Target(f"5-call page, p50: {result.gather} / {result.bare}", PAGE_GOAL,
               page.ratios(result.gather, result.bare)),
    ]


def _figures(part: Part, baseline: str, scale: float, digits: int) -> list[list[str]]:
    rows = []
    for arm in part.arms:
        latencies = part.latencies(arm)
        versus = "" if arm == baseline else spread(part.ratios(arm, baseline))
        rows.append([arm, str(len(latencies)),
                     f"{percentile(latencies, 50) * scale:.{digits}f}",
                     f"{percentile(latencies, 99) * scale:.{digits}f}",
                     f"{part.per_second(arm):.0f}", str(part.errors(arm)), versus])
    return rows


def _cpu_rows(part: Part) -> list[list[str]]:
    rows = []
    for arm in part.arms:
        by_process = part.cpu_us(arm)
        rows += [[arm, name, f"{us:.0f}"] for name, us in by_process.items()]
        rows.append([arm, "**all its processes**", f"**{sum(by_process.values()):.0f}**"])
    return rows


def render(result: Result, command: str, facts: list[tuple[str, str]], plot_path: Path,
           report_path: Path) -> str:
    trip, page = result.round_trip, result.page
    plot_link = os.path.relpath(plot_path, report_path.parent)
    goals = targets(result)
    sections = [
        "## S0: one RPC round trip and the 5-call page, against Zero and bare pyzmq "
        "(bench/s0_rpc/)",
        f"Reproduce: `make bench-s0` (or `.venv/bin/python -m bench.s0_rpc`); this run: "
        f"`{command}`. Every process is real and on loopback (free ports, SQLite files in a "
        "temporary folder seeded with the demo catalog); the benchmark's own process is the "
        "client of every arm, one call at a time (closed loop, one client).",
        "### 1. One round trip: pricing.get_price",
        f"- **{result.shipped}**: ZeroShop's RpcClient calling the real pricing service "
        "process, as shipped: its reply cache answers a lookup it has answered before "
        "(docs/PERFORMANCE.md), so after the warm-up every call here is served from memory.\n"
        f"- **{result.uncached}**: the same with `ZEROSHOP_REPLY_CACHE=0`, every call read "
        "from SQLite as Zero's is: the like-for-like comparison of transport and runtime.\n"
        f"- **{result.zero}**: Zero (PyPI `zeroapi`) serving pricing's own get_price handler "
        "(services/pricing, in the same read-only unit of work ZeroShop's runtime opens) over "
        f"the same SQLite file, set up as Zero's README shows: `ZeroServer(...).run()` with "
        f"its default workers (its broker process and {result.zero_workers} worker "
        "processes, one per CPU), called with `ZeroClient.call(\"get_price\", GetPrice(...), "
        "return_type=Price)`.",
        f"{result.rounds[0]} rounds of {result.per_round[0]} calls per arm, after a warm-up "
        "that asks every product once per arm; each round draws random product ids (fixed "
        "seed) that every arm asks in turn, in an order that rotates. Microseconds per call; "
        f"calls/s of the one closed-loop client; vs {result.zero}: the median of the "
        "per-round p50 ratios (min-max), below 1 is faster.",
        table(["arm", "calls", "p50 us", "p99 us", "calls/s", "errors",
               f"p50 / {result.zero}'s"], _figures(trip, result.zero, 1e6, 0)),
        "### 2. The 5-call product page without HTTP",
        f"- **{result.gather}**: RpcClient.gather of the page's five calls (product.get, "
        "inventory.get_stock, pricing.get_price, discount.get_discount, "
        "recommendation.recommend limit 4) to the five real page services as shipped: what "
        "the gateway does for a page.\n"
        f"- **{result.sequential}**: the same five calls one after another with the same "
        "RpcClient (what bench/rpc_fanout.py measured before S0).\n"
        f"- **{result.bare}**: the floor: five minimal pyzmq ROUTER servers "
        f"({result.bare_processes}), each answering every request with one fixed reply, the "
        "bytes of the real service's reply for product 1 (the same size); the client has a "
        "DEALER per server, sends the page's five requests at once and reads the five "
        "replies. No ids, deadlines, validation or database.",
        f"{result.rounds[1]} rounds of {result.per_round[1]} pages per arm, after a warm-up "
        "of every product page once per arm, with the same rotation and seeded ids. "
        f"Milliseconds per page; vs {result.bare}: the median per-round p50 ratio "
        "(min-max).",
        table(["arm", "pages", "p50 ms", "p99 ms", "pages/s", "errors",
               f"p50 / {result.bare}'s"], _figures(page, result.bare, 1e3, 3)),
        f"{result.gather} against {result.sequential}: the sequential page's p50 is "
        f"{spread(page.ratios(result.sequential, result.gather))} the gathered one's.",
        f"![latency distribution per arm, both parts]({plot_link})",
        "### CPU per call and per page, by process",
        "User + system CPU from /proc over the timed rounds, microseconds per call (part 1) "
        "or per page (part 2); the client is this benchmark's process, its zmq I/O threads "
        "included.",
        table(["arm", "process", "CPU us per call or page"],
              _cpu_rows(trip) + _cpu_rows(page)),
        "### Targets",
        table(["target", "goal", "measured: median (min-max) of rounds", "result"],
              [[t.what, f"<= {t.goal:g}x", spread(t.ratios), verdict(t.met)] for t in goals]),
    ]
    if result.profiles:
        sections += ["### Where the time goes (the missed targets' arms, profiled after the "
                     "timed rounds)", *[p.render() for p in result.profiles]]
    sections += [
        "### Machine",
        table(["fact", "value"], [[k, v] for k, v in facts]),
        "Client and servers share this machine's CPUs, and other work on it (load average, "
        "CPU of other processes) adds noise: compare the arms of this one run with each "
        "other, round by round.",
    ]
    return "\n\n".join(sections) + "\n"


def plot(result: Result, path: Path) -> None:
    """Latency CDF per arm: one round trip on the left, the 5-call page on the right."""
    figure, first = new_figure(11, 4.4)
    first.remove()  # new_figure gives one axes; this figure has two
    left, right = figure.subplots(1, 2)
    _cdf(left, result.round_trip, 1e6, "us per call", "S0.1: one round trip (pricing.get_price)")
    _cdf(right, result.page, 1e3, "ms per page", "S0.2: the 5-call page, no HTTP")
    save_figure(figure, path)


def _cdf(axes: Any, part: Part, scale: float, unit: str, title: str) -> None:
    for arm in part.arms:
        ordered = sorted(x * scale for x in part.latencies(arm))
        # Up to p99.9: the last few calls of a noisy machine would squash the curves.
        shown = ordered[:max(1, int(len(ordered) * 0.999))]
        axes.plot(shown, [(i + 1) / len(ordered) for i in range(len(shown))], label=arm)
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axes.set_xscale("log")
    # Plain numbers at 1, 2 and 5 of each decade; no crowded minor labels.
    axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(ScalarFormatter())
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel(f"{unit} (log scale)")
    axes.set_ylabel("fraction of calls at or below" if "call" in unit else
                    "fraction of pages at or below")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7, loc="lower right")
