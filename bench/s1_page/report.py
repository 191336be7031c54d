"""S1's figures, targets, Markdown section and plot, from the loads bench/s1_page/
measured."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..common import Summary, fmt_ms, new_figure, save_figure, spread, table, verdict
from .closed_loop import Load


@dataclass(frozen=True)
class Result:
    arms: Sequence[str]  # the first is ZeroShop, the others its baselines
    concurrency: Sequence[int]
    loads: dict[tuple[str, int], list[Load]]  # one per round
    seconds: float
    sequential: str  # the baselines the targets name
    threads: str

    def pooled(self, arm: str, clients: int) -> tuple[float, Summary, float, int]:
        """(pages/s, latency summary, CPU ms per page, errors) over every round."""
        runs = self.loads[(arm, clients)]
        pages = sum(r.pages for r in runs)
        seconds = sum(r.seconds for r in runs)
        cpu_ms = sum(r.cpu_seconds for r in runs) * 1000 / pages if pages else float("nan")
        latencies = [x for r in runs for x in r.latencies]
        return (pages / seconds if seconds else float("nan"), Summary.of(latencies), cpu_ms,
                sum(r.errors for r in runs))

    def cpu_by_process(self, arm: str) -> dict[str, float]:
        """CPU ms per page of each of the arm's processes, over every round and concurrency."""
        runs = [r for c in self.concurrency for r in self.loads[(arm, c)]]
        pages = sum(r.pages for r in runs) or 1
        return {name: sum(r.cpu_by_process[name] for r in runs) * 1000 / pages
                for name in runs[0].cpu_by_process}

    def throughput_ratios(self, baseline: str, clients: int) -> list[float]:
        """ZeroShop's pages/s over the baseline's, round by round."""
        ours, theirs = self.loads[(self.arms[0], clients)], self.loads[(baseline, clients)]
        return [o.per_second / t.per_second for o, t in zip(ours, theirs, strict=True)
                if t.per_second > 0]

    def p50_ratios(self, baseline: str, clients: int) -> list[float]:
        """The baseline's median latency over ZeroShop's, round by round (higher: ours
        is faster)."""
        ours, theirs = self.loads[(self.arms[0], clients)], self.loads[(baseline, clients)]
        return [Summary.of(t.latencies).median_ms / Summary.of(o.latencies).median_ms
                for o, t in zip(ours, theirs, strict=True) if o.latencies and t.latencies]


def targets(result: Result) -> list[list[str]]:
    """The issue's targets for S1, each with its measured value and met or missed."""
    zeroshop, sequential, threads = result.arms[0], result.sequential, result.threads
    first, last = result.concurrency[0], result.concurrency[-1]
    rows = []
    for what, ratios, goal in (
            (f"pages/s vs {sequential}, c={first}", result.throughput_ratios(sequential, first),
             5.0),
            (f"p50 vs {sequential}, c={first} (theirs / ours)",
             result.p50_ratios(sequential, first), 5.0),
            (f"pages/s vs {threads}, c={last}", result.throughput_ratios(threads, last), 4.0)):
        met = bool(ratios) and statistics.median(ratios) >= goal
        rows.append([what, f">= {goal:g}x", spread(ratios), verdict(met)])
    worst = max(result.pooled(zeroshop, c)[2] for c in result.concurrency)
    rows.append([f"{zeroshop} CPU per page, all its processes (worst concurrency)", "<= 3 ms",
                 f"{fmt_ms(worst)} ms", verdict(worst <= 3.0)])
    return rows


def render(result: Result, command: str, facts: list[tuple[str, str]], plot_path: Path,
           report_path: Path) -> str:
    zeroshop, sequential, threads = result.arms[0], result.sequential, result.threads
    uncached = [arm for arm in result.arms if arm not in (zeroshop, sequential, threads)]
    rows = []
    for clients in result.concurrency:
        for arm in result.arms:
            per_second, summary, cpu_ms, errors = result.pooled(arm, clients)
            versus = ("" if arm == zeroshop
                      else spread(result.throughput_ratios(arm, clients)))
            p50_versus = "" if arm == zeroshop else spread(result.p50_ratios(arm, clients))
            rows.append([arm, str(clients), f"{per_second:.0f}", fmt_ms(summary.median_ms),
                         fmt_ms(summary.p95_ms), fmt_ms(cpu_ms), str(errors), versus,
                         p50_versus])
    rounds = len(result.loads[(zeroshop, result.concurrency[0])])
    plot_link = os.path.relpath(plot_path, report_path.parent)
    return "\n\n".join([
        "## S1: the product page over HTTP against Flask + gunicorn peers "
        "(bench/s1_page/)",
        f"Reproduce: `{command}` (`make bench-s1`). Four arms on this one machine, real "
        "processes on loopback, each over its own SQLite files seeded with the same demo "
        f"catalog: **{zeroshop}** (its gateway under uvicorn, the five services over "
        f"ZeroMQ, rate limits off), **{sequential}** and **{threads}**: the same five lookups "
        "(product.get, inventory.get_stock, pricing.get_price, discount.get_discount, "
        "recommendation.recommend) as five Flask + SQLAlchemy apps under gunicorn sync "
        "workers, each answering with ZeroShop's own handler (the same queries), behind a "
        "Flask gateway under gunicorn that calls them one after another with a "
        "requests.Session per worker (a) or all at once from a thread pool per worker (b), "
        "and answers the same JSON (bench/peers/). The peers are what a typical user "
        "builds, not tuned down and not tuned up: they cache nothing. ZeroShop's services "
        "answer a repeated lookup from their reply cache (docs/PERFORMANCE.md), part of the "
        f"platform as shipped; **{', '.join(uncached)}** is the same platform with "
        "`ZEROSHOP_REPLY_CACHE=0`, every lookup read from SQLite as the peers do, so the "
        "table also shows what the transport and runtime give without the cache. gunicorn's "
        "sync workers close each connection after its answer (their docs put them behind a "
        "buffering proxy), so every call the peer gateway makes opens a new loopback TCP "
        "connection.",
        f"A closed-loop client (one thread and one keep-alive connection per client; "
        f"gunicorn's sync workers close each connection) asks for random product pages. "
        f"{rounds} rounds; in each, every arm runs {result.seconds:g} s at each concurrency, "
        f"the arms in an order that rotates, after a warm-up that opens every product page "
        f"once per arm. Pages/s and percentiles pool the rounds; CPU per page is the CPU "
        f"(/proc, user + system) of every process of the arm (gateway and services, "
        f"gunicorn masters and workers included; not the client) over its pages. vs "
        f"{zeroshop}: the median of the per-round ratios, with min-max.",
        table(["arm", "clients", "pages/s", "p50 ms", "p95 ms", "CPU ms/page", "errors",
               f"{zeroshop} pages/s vs it", f"its p50 / {zeroshop}'s"], rows),
        f"![pages/s against concurrency, per arm]({plot_link})",
        "Where each arm's CPU goes: ms per page by process (a gunicorn: its master and "
        "workers), over every round and concurrency.",
        _cpu_table(result),
        "### Targets",
        table(["target", "goal", "measured: median (min-max)", "result"], targets(result)),
        "### Machine",
        table(["fact", "value"], [[k, v] for k, v in facts]),
        "Client, ZeroShop and both peer stacks share this machine's CPUs; other work on it "
        "(load average, CPU of other processes) adds noise, so compare the arms of this one "
        "run with each other.",
    ]) + "\n"


def _cpu_table(result: Result) -> str:
    by_arm = {arm: result.cpu_by_process(arm) for arm in result.arms}
    names = list(by_arm[result.arms[0]])
    rows = [[name, *(fmt_ms(by_arm[arm].get(name, float("nan"))) for arm in result.arms)]
            for name in names]
    rows.append(["all", *(fmt_ms(sum(by_arm[arm].values())) for arm in result.arms)])
    return table(["process", *result.arms], rows)


def plot(result: Result, path: Path) -> None:
    """pages/s against concurrency, one line per arm (per-round median, min-max bars)."""
    figure, axes = new_figure()
    for arm in result.arms:
        per_round = [[r.per_second for r in result.loads[(arm, c)]] for c in result.concurrency]
        middle = [statistics.median(v) for v in per_round]
        low = [m - min(v) for m, v in zip(middle, per_round, strict=True)]
        high = [max(v) - m for m, v in zip(middle, per_round, strict=True)]
        axes.errorbar(result.concurrency, middle, yerr=[low, high], marker="o", capsize=4,
                      label=arm)
    axes.set_xscale("log", base=2)
    axes.set_xticks(list(result.concurrency), [str(c) for c in result.concurrency])
    axes.set_xlabel("concurrent clients (closed loop)")
    axes.set_ylabel("product pages/s (median of rounds, min-max)")
    axes.set_title("S1: product page over HTTP")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend()
    save_figure(figure, path)
