"""Scenario S3: events, durable, against RabbitMQ; rewrites section "s3" of
docs/BENCHMARKS.md and leaves the other sections alone.

    make bench-s3                        # same as: .venv/bin/python -m bench.s3_events
    .venv/bin/python -m bench.s3_events --quick --output /tmp/s3.md   # a short smoke run

1. Throughput: 8 producers at once (and, in the same rounds, one) send durable events, each
   its next as soon as its last is durable, fanned out to three consumer processes that
   each commit every event to their own SQLite file; ZeroShop (orders' outbox -> relay ->
   shared.events.Consumer) and RabbitMQ (persistent, publisher confirms, fanout exchange,
   manual ack) in interleaved rounds after warm-up; zero loss checked by sequence numbers
   in every consumer's database.
2. Latency at a paced 500 events/s, same arms and producers: p50/p99 from each event's
   scheduled send to its commit by all three consumers.
3. Orders fully settled per second on the whole platform (stock reserved, confirmed, email
   and SMS recorded) with 8 clients at once, and one order's reactions when alone.

Everything runs as real processes (SQLite in a temporary folder, loopback, free ports) and
is stopped on exit, Ctrl-C and errors included. Progress goes to stderr. About 3 minutes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shared.messaging import new_context

from ..common import (
    REPORT,
    OtherLoad,
    facts_at_end,
    fill_defaults,
    machine_facts,
    new_figure,
    plot_path,
    progress,
    save_figure,
    spread,
    stop_on_signals,
    table,
    verdict,
    write_section,
)
from . import durable, flow
from .durable import Arm, Collector, Paced, Round, SequenceCheck
from .rabbitmq import RABBITMQ, RabbitArm, RabbitTarget, rabbit_version
from .zeroshop import ZeroShopArm

DEFAULTS = {"rounds": 9, "warmup": 1, "events": 800, "paced_rounds": 3,
            "paced_seconds": 3.0, "orders": 400, "batches": 6, "order_rounds": 20,
            "producers": 8}
QUICK = {"rounds": 2, "warmup": 1, "events": 100, "paced_rounds": 1, "paced_seconds": 1.0,
         "orders": 40, "batches": 2, "order_rounds": 5, "producers": 4}
TARGET_RATIO = 3.0  # ZeroShop's events/s over the RabbitMQ baseline's
TARGET_P99_MS = 5.0  # at the paced rate
TARGET_ORDERS_S = 300.0  # orders fully settled per second
PACED_RATE = 500.0
COLOURS = ["#2b7bba", "#e08a2c"]
LIGHT_RATE = 100.0  # latency when neither arm is saturated


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.s3_events", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="throughput rounds per arm (9)")
    parser.add_argument("--producers", type=int,
                        help="producer threads, each with its own connection, sending at "
                             "once (8); part 1 also runs with one")
    parser.add_argument("--warmup", type=int, help="untimed warm-up rounds per arm (1)")
    parser.add_argument("--events", type=int, help="events per throughput round (800)")
    parser.add_argument("--paced-rounds", type=int, help="paced latency rounds per arm (3)")
    parser.add_argument("--paced-seconds", type=float, help="length of a paced round (3)")
    parser.add_argument("--rate", type=float, default=PACED_RATE,
                        help=f"the paced rate, events/s ({PACED_RATE:g})")
    parser.add_argument("--light-rate", type=float, default=LIGHT_RATE,
                        help=f"a second paced rate, below saturation ({LIGHT_RATE:g})")
    parser.add_argument("--orders", type=int, help="orders per settled-orders batch (400)")
    parser.add_argument("--batches", type=int, help="settled-orders batches (6)")
    parser.add_argument("--order-rounds", type=int, help="single orders timed alone (20)")
    parser.add_argument("--rabbitmq", default=RABBITMQ,
                        help=f"the baseline's broker, loopback only ({RABBITMQ})")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report whose s3 section to rewrite (docs/BENCHMARKS.md)")
    args = parser.parse_args(argv)
    fill_defaults(args, DEFAULTS, QUICK)
    try:
        args.target = RabbitTarget.parse(args.rabbitmq)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def _command(argv: list[str]) -> str:
    if not argv:
        return "`make bench-s3` (or `.venv/bin/python -m bench.s3_events`)"
    return f"`.venv/bin/python -m bench.s3_events {' '.join(argv)}`"


def _commit_ms(commits: int = 100) -> float:
    """Median time of one SQLite commit (WAL, synchronous=FULL) in the temporary folder the
    services use: the floor under every durable step, both arms' consumers included."""
    with tempfile.TemporaryDirectory(prefix="zeroshop-bench-s3-fsync-") as tmp:
        db = sqlite3.connect(str(Path(tmp) / "fsync.db"), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("CREATE TABLE t (n INTEGER)")
            times = []
            for n in range(commits):
                start = time.perf_counter()
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO t VALUES (?)", (n,))
                db.execute("COMMIT")
                times.append(time.perf_counter() - start)
        finally:
            db.close()
    return statistics.median(times) * 1000


def _sqlite_fact(commit_ms: tuple[float, float]) -> str:
    db = sqlite3.connect(":memory:")
    try:
        mode = db.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        db.close()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return (f"{sqlite3.sqlite_version}, WAL, synchronous={names.get(mode, mode)} "
            f"(every consumer's and service's setting); one commit, i.e. its fsync, took "
            f"{commit_ms[0]:.2f} ms before the run and {commit_ms[1]:.2f} ms after it "
            f"(median of 100 in the temporary folder; a shared disk varies)")


# --- running ----------------------------------------------------------------------------------

@dataclass
class ArmResult:
    name: str
    rounds: list[Round] = field(default_factory=list)  # with --producers at once
    single: list[Round] = field(default_factory=list)  # with one producer
    paced: dict[float, Paced] = field(default_factory=dict)  # by rate, events/s
    checks: list[SequenceCheck] = field(default_factory=list)

    def rates(self, single: bool = False) -> list[float]:
        return [r.rate for r in (self.single if single else self.rounds)]

    def median_rate(self) -> float:
        return statistics.median(self.rates()) if self.rounds else float("nan")


@dataclass
class FlowResult:
    batches: list[flow.Batch]
    alone: flow.OrderLatency


def _interleaved(arms: Sequence[Arm], rounds: int) -> list[list[int]]:
    """The arms' order in each round: alternating (AB BA ...), so a change in the machine's
    load falls on every arm alike."""
    order = list(range(len(arms)))
    return [order if r % 2 == 0 else order[::-1] for r in range(rounds)]


def measure_arms(arms: Sequence[Arm], collector: Collector, args: argparse.Namespace,
                 ) -> list[ArmResult]:
    results = [ArmResult(arm.name) for arm in arms]
    for r, order in enumerate(_interleaved(arms, args.warmup + args.rounds)):
        timed = {i: durable.throughput_round(arms[i], collector, args.events, args.producers)
                 for i in order}
        alone = {i: durable.throughput_round(arms[i], collector, args.events)
                 for i in reversed(order)}
        if r < args.warmup:
            progress("  throughput warm-up round done")
            continue
        for i, one in timed.items():
            results[i].rounds.append(one)
            results[i].single.append(alone[i])
        progress(f"  throughput round {r - args.warmup + 1}/{args.rounds}: " + ", ".join(
            f"{arms[i].name} {timed[i].rate:.0f} ({alone[i].rate:.0f} with one producer)"
            for i in sorted(timed)) + " events/s")
    for rate in (args.rate, args.light_rate):
        for result in results:
            result.paced[rate] = Paced(rate)
        for r, order in enumerate(_interleaved(arms, args.paced_rounds)):
            for i in order:
                durable.paced_round(arms[i], collector, rate, args.paced_seconds,
                                    results[i].paced[rate], args.producers)
            progress(f"  paced round {r + 1}/{args.paced_rounds} at {rate:g} events/s: " +
                     ", ".join(f"{a.name} p99 {results[i].paced[rate].p(99):.1f} ms"
                               for i, a in enumerate(arms)))
    for arm, result in zip(arms, results, strict=True):
        result.checks = durable.check_sequences(arm)
    return results


def run_arms(data: Path, args: argparse.Namespace) -> tuple[list[ArmResult], str]:
    """Parts 1 and 2; returns the results and the broker's versions (or why it is absent)."""
    version, why = rabbit_version(args.target)
    ctx = new_context()
    collector = Collector(ctx)
    arms: list[Arm] = []
    try:
        progress("starting orders and three ZeroShop consumers")
        arms.append(ZeroShopArm(data / "zeroshop", collector.endpoint))
        if version is not None:
            progress("declaring the RabbitMQ fanout and starting three pika consumers")
            arms.append(RabbitArm(args.target, args.rabbitmq, data / "rabbitmq",
                                  collector.endpoint))
        else:
            progress(f"RabbitMQ arm skipped: {why}")
        for arm in arms:
            collector.wait_ready(arm.reporters)
        progress(f"1-2/3 durable fan-out: {args.warmup} + {args.rounds} rounds of "
                 f"{args.events} events, then {args.paced_rounds} x {args.paced_seconds:g} s "
                 f"at {args.rate:g}/s, per arm")
        return measure_arms(arms, collector, args), version or f"not measured: {why}"
    finally:
        for arm in reversed(arms):
            arm.close()
        collector.close()
        ctx.term()


def run_flow(data: Path, args: argparse.Namespace) -> FlowResult:
    progress(f"3/3 starting {len(flow.FLOW)} services for orders fully settled")
    shop = flow.FlowShop(data / "flow")
    try:
        alone = flow.run_latency(shop, args.order_rounds, 3)
        progress(f"  one order alone: {args.order_rounds} orders")
        batches = flow.run_throughput(shop, args.orders, args.batches, args.producers)
    finally:
        shop.close()
    return FlowResult(batches, alone)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    stop_on_signals()
    commit_before = _commit_ms()
    facts = machine_facts()
    others = OtherLoad()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="zeroshop-bench-s3-") as tmp:
            arms, broker = run_arms(Path(tmp), args)
            settled = run_flow(Path(tmp), args)
    except KeyboardInterrupt:
        progress("interrupted: processes stopped, report not written")
        return 130
    elapsed = time.monotonic() - started
    commit_ms = (commit_before, _commit_ms())
    facts += [("SQLite", _sqlite_fact(commit_ms)),
              ("RabbitMQ", broker),
              *facts_at_end(others, elapsed)]
    plot = plot_path("s3", args.output)
    _plot(arms, plot)
    write_section(args.output, "s3", _report(raw, facts, arms, settled, args, plot,
                                                 commit_ms))
    progress(f"done in {elapsed:.0f} s: wrote section s3 of {args.output} and {plot}")
    return 0


# --- the report -----------------------------------------------------------------------------

def _ratios(arms: Sequence[ArmResult], single: bool = False) -> list[float]:
    """ZeroShop's events/s over RabbitMQ's, round by round (the rounds were interleaved)."""
    if len(arms) < 2:
        return []
    return [z / r for z, r in zip(arms[0].rates(single), arms[1].rates(single), strict=False)
            if r > 0]


def _throughput_table(arms: Sequence[ArmResult], producers: int) -> str:
    rows = []
    for arm in arms:
        for count, rounds in ((producers, arm.rounds), (1, arm.single)):
            rates = [r.rate for r in rounds]
            sends = [r.events / r.send_s for r in rounds if r.send_s > 0]
            rows.append([arm.name, str(count), str(sum(r.events for r in rounds)),
                         f"{statistics.median(rates):.0f}", f"{min(rates):.0f}-{max(rates):.0f}",
                         f"{statistics.median(sends):.0f}", str(sum(r.lost for r in rounds)),
                         "yes" if arm.checks and all(c.ok for c in arm.checks) else "NO"])
    return table(["arm", "producers", "events", "events/s (median)", "min-max", "sends/s",
                  "lost", "sequence check"], rows)


def _cpu_table(arms: Sequence[ArmResult]) -> str:
    """CPU per event of every process of each arm: where the time goes, measured."""
    rows = []
    for arm in arms:
        busy = _cores_busy(arm.rounds)
        rows += [[arm.name, name, f"{ms:.2f}", f"{busy[name]:.2f}"]
                 for name, ms in _per_event(arm.rounds).items()]
    return table(["arm", "process", "CPU ms per event", "cores busy"], rows)


def _paced_table(arms: Sequence[ArmResult]) -> str:
    rows = []
    for arm, paced in ((a, p) for a in arms for p in a.paced.values()):
        send = statistics.median(paced.send) * 1000 if paced.send else float("nan")
        rows.append([arm.name, f"{paced.rate:g}", str(len(paced.latencies)),
                     f"{statistics.median(paced.achieved):.0f}", f"{send:.2f}",
                     f"{paced.p(50):.2f}", f"{paced.p(99):.2f}", f"{paced.p(100):.2f}",
                     str(paced.unsent), str(paced.lost)])
    return table(["arm", "paced at /s", "events", "sent/s", "producer call median ms",
                  "p50 ms", "p99 ms", "max ms", "due, not sent", "lost"], rows)


def _checks_table(arms: Sequence[ArmResult]) -> str:
    rows = [[arm.name, c.sink, str(c.expected), str(c.rows), f"{c.low}-{c.high}",
             "yes" if c.ok else "NO"] for arm in arms for c in arm.checks]
    return table(["arm", "consumer", "events sent", "rows committed", "sequence numbers",
                  "complete, no gap"], rows)


def _flow_table(result: FlowResult) -> str:
    rows = []
    for i, b in enumerate(result.batches, 1):
        cpu = sum(b.cpu_s.values())
        rows.append([str(i), str(b.orders), f"{b.orders / b.place_s:.0f}", f"{b.seconds:.2f}",
                     f"{b.rate:.0f}", f"{b.rate * flow.ORDER_EVENTS:.0f}",
                     f"{cpu / b.orders * 1000:.1f}", "yes" if b.settled else "NO"])
    return table(["batch", "orders", "placed/s", "all settled s", "orders/s", "events/s",
                  "CPU ms per order (5 services)", "settled"], rows)


def _flow_cpu(result: FlowResult) -> str:
    orders = sum(b.orders for b in result.batches)
    names = list(result.batches[0].cpu_s)
    return ", ".join(f"{name} {sum(b.cpu_s[name] for b in result.batches) / orders * 1000:.1f}"
                     for name in names)


def _targets(arms: Sequence[ArmResult], settled: FlowResult,
             rate: float) -> tuple[str, list[str]]:
    """The targets table, and the names of the missed targets."""
    ratios = _ratios(arms)
    ratio = statistics.median(ratios) if ratios else float("nan")
    p99 = arms[0].paced[rate].p(99)
    orders = flow.median_rate(settled.batches)
    rows = [("events/s vs the RabbitMQ baseline", f">= {TARGET_RATIO:g}x", spread(ratios),
             ratio >= TARGET_RATIO),
            ("(the same, one producer)", f">= {TARGET_RATIO:g}x", spread(_ratios(arms, True)),
             statistics.median(_ratios(arms, True) or [float("nan")]) >= TARGET_RATIO),
            (f"p99 at {rate:g} events/s paced", f"<= {TARGET_P99_MS:g} ms",
             f"{p99:.2f} ms", p99 <= TARGET_P99_MS),
            ("orders fully settled per second", f">= {TARGET_ORDERS_S:g}", f"{orders:.0f}",
             orders >= TARGET_ORDERS_S)]
    text = table(["target", "wanted", "measured", "verdict"],
                 [[name, want, got, verdict(met)] for name, want, got, met in rows])
    return text, [name for name, _, _, met in rows if not met]


def _report(argv: list[str], facts: list[tuple[str, str]], arms: list[ArmResult],
            settled: FlowResult, args: argparse.Namespace, plot: Path,
            commit_ms: tuple[float, float]) -> str:
    targets, missed = _targets(arms, settled, args.rate)
    alone = settled.alone
    return "\n\n".join([
        "## S3: events, durable, against RabbitMQ (bench/s3_events/)",
        f"Reproduce: {_command(argv)}. Real processes on loopback, SQLite files in a "
        f"temporary folder, the production heartbeat (1 s); the RabbitMQ arm uses the broker "
        f"on this machine. Plot: `{plot.name}` (events/s per arm, median with min-max; "
        f"latency CDFs at {args.rate:g} and {args.light_rate:g} events/s).",
        "### Machine",
        table(["fact", "value"], [[k, v] for k, v in facts]),
        "Client, services, consumers and RabbitMQ share this machine's CPUs; other work on "
        "it adds noise, hence interleaved rounds and ratios per round.",
        "### Targets",
        targets,
        "### 1. Throughput: durable events fanned out to three committing consumers",
        f"{args.rounds} rounds of {args.events} events per arm after {args.warmup} warm-up "
        f"round(s), arms interleaved (AB BA ...), each round once with {args.producers} "
        f"producers sending at once (threads of this process, each with its own connection, "
        f"as a shop's many clients) and once with one producer. A producer sends its next "
        f"event once its last is durable: ZeroShop's `orders.place_order` commits an order "
        f"with its `order.placed` outbox row (the relay then publishes it), RabbitMQ's "
        f"`basic_publish` returns once its publisher confirm arrived. Three consumer "
        f"processes per arm commit each event to their own SQLite file (ZeroShop: "
        f"`shared.events.Consumer`, effect and offset in one transaction, several events in "
        f"one commit when they arrived together; RabbitMQ: pika, prefetch 100, a commit per "
        f"message, then its ack). An event counts when all three have committed it; a "
        f"round's time runs from its first send to its last event's third commit. "
        f"ZeroShop / RabbitMQ per round: {spread(_ratios(arms))} with {args.producers} "
        f"producers, {spread(_ratios(arms, True))} with one. (With several producers, orders "
        f"commits the `place_order` requests that queued up together in one transaction; "
        f"RabbitMQ's broker confirms several publishers' messages together too.)",
        _throughput_table(arms, args.producers),
        f"Where the time goes, measured over the rounds with {args.producers} producers "
        "(CPU per event of each process; the producer is this benchmark process, the RPC or "
        "pika clients):",
        _cpu_table(arms),
        "Zero loss, by sequence number: after the run each consumer's database must hold "
        "one row per event sent (warm-up and paced events included), its sequence numbers "
        "without a gap.",
        _checks_table(arms),
        f"### 2. Latency at a paced {args.rate:g} events/s (and {args.light_rate:g})",
        f"{args.paced_rounds} round(s) of {args.paced_seconds:g} s per arm and rate, arms "
        f"interleaved; {args.light_rate:g}/s shows the latency below saturation. "
        f"Event i is due at start + i / rate and the next free of {args.producers} producers "
        f"sends it; the latency runs from that due time "
        f"(not from when a late producer got to it) to the event's third commit, so a "
        f"producer falling behind shows as latency. A round ends on time: events due but not "
        f"sent by then are counted apart (due, not sent), so when there are any, the "
        f"percentiles of the sent ones understate the wait.",
        _paced_table(arms),
        "### 3. Orders fully settled, the whole platform",
        f"Orders, inventory, email, sms and recommendation as real processes. "
        f"{args.producers} clients at once place {args.orders} orders per batch, each its "
        f"next as soon as `place_order` answered its last, then the benchmark waits "
        f"until the last order's timeline holds all {flow.TIMELINE_ENTRIES} entries (stock "
        f"reserved, confirmed, email and SMS recorded: a watcher following the services' "
        f"events sees both notifications of the last order go out, then `get_order` is "
        f"polled for the last hop, so no polling loads orders meanwhile); each batch starts "
        f"idle and is "
        f"checked afterwards (every order confirmed, one email and one SMS each). "
        f"Median {flow.median_rate(settled.batches):.0f} orders/s.",
        _flow_table(settled),
        f"CPU ms per order by service: {_flow_cpu(settled)}. One order alone "
        f"({len(alone.settled)} orders, {alone.errors} errors): `place_order` "
        f"{alone.p(alone.place, 50):.1f} ms, settled after {alone.p(alone.settled, 50):.1f} "
        f"ms (p95 {alone.p(alone.settled, 95):.1f} ms), four hops after the order's commit.",
        "### Where the time goes in the missed targets",
        _where_time_goes(missed, arms, settled, args, commit_ms),
        "Dropped from the former event-bus benchmark: the fetch-only consumer modes and "
        "their idle cost (a design comparison, not a target) and the single-queue one-hop "
        "rows against RabbitMQ (the fan-out baseline above replaces them; the producer-call "
        "column keeps its send/after-send split).",
    ])


def _per_event(rounds: Sequence[Round]) -> dict[str, float]:
    """CPU ms per event of each process over `rounds`."""
    events = sum(r.events for r in rounds)
    return {name: sum(r.cpu_s[name] for r in rounds) / events * 1000 for name in rounds[0].cpu_s}


def _cores_busy(rounds: Sequence[Round]) -> dict[str, float]:
    wall = sum(r.seconds for r in rounds)
    return {name: sum(r.cpu_s[name] for r in rounds) / wall for name in rounds[0].cpu_s}


def _where_time_goes(missed: list[str], arms: Sequence[ArmResult], settled: FlowResult,
                     args: argparse.Namespace, commit_ms: tuple[float, float]) -> str:
    """What this run's own numbers say about each miss (py-spy's view: docs/PERFORMANCE.md)."""
    if not missed:
        return "Every target met."
    zeroshop = arms[0]
    sentences: list[str] = []
    if any(name.startswith("events/s") or name.startswith("(the same") for name in missed):
        sentences.append(_events_per_s_miss(arms, args, commit_ms,
                                            "events/s vs the RabbitMQ baseline" in missed))
    paced = zeroshop.paced[args.rate]
    light = zeroshop.paced.get(args.light_rate)
    if (any(name.startswith("p99") for name in missed) and paced.send and light and light.send
            and zeroshop.single):
        alone = sum(_per_event(zeroshop.single).values())
        sentences.append(
            f"p99 at {args.rate:g}/s: the {args.producers} producers sent "
            f"{statistics.median(paced.achieved):.0f} events/s, and one `place_order` took "
            f"{statistics.median(paced.send) * 1000:.2f} ms (median) against "
            f"{statistics.median(light.send) * 1000:.2f} ms at {args.light_rate:g}/s. Events "
            f"paced this way arrive one at a time, so neither orders nor the consumers form "
            f"runs to share a commit: in the one-producer rounds, where the same happens, "
            f"ZeroShop's processes used {alone:.2f} ms of CPU per event, so {args.rate:g}/s "
            f"asks for {alone * args.rate / 1000:.2f} CPUs of this machine's "
            f"{_cpus()}, and the queues grow over the round; at {args.light_rate:g}/s p50 was "
            f"{light.p(50):.2f} ms and p99 {light.p(99):.2f} ms.")
    if any(name.startswith("orders fully settled") for name in missed):
        batches = settled.batches
        orders = sum(b.orders for b in batches)
        cpu_per_order = sum(sum(b.cpu_s.values()) for b in batches) / orders * 1000
        cores = _cpus()
        sentences.append(
            f"Orders settled: one order costs the five services {cpu_per_order:.1f} ms of CPU "
            f"(by service above), so {cores} CPUs fully used would settle at most "
            f"{cores * 1000 / cpu_per_order:.0f} orders/s, before the benchmark's own clients "
            f"and watcher.")
    return f"Missed: {', '.join(missed)}. " + " ".join(sentences)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def _events_per_s_miss(arms: Sequence[ArmResult], args: argparse.Namespace,
                       commit_ms: tuple[float, float], ratio_missed: bool) -> str:
    """CPU per event summed over each arm's processes, and how busy the arm kept the CPUs:
    an arm short of them is held back by one of its processes, not by the machine."""
    zeroshop = _per_event(arms[0].rounds)
    busy = _cores_busy(arms[0].rounds)
    orders = "orders (outbox + relay)"
    text = (f"Events/s: with {args.producers} producers ZeroShop's processes used "
            f"{sum(zeroshop.values()):.2f} ms of CPU per event in all, "
            f"{zeroshop[orders]:.2f} ms of it in orders (`place_order`'s statements "
            f"and commit, the outbox row, the relay's pass; docs/PERFORMANCE.md has the "
            f"profile)")
    if len(arms) > 1:
        rabbit = _per_event(arms[1].rounds)
        cpu_ratio = sum(rabbit.values()) / sum(zeroshop.values())
        text += (f", against {sum(rabbit.values()):.2f} ms for RabbitMQ's arm (its three "
                 f"consumers commit each message alone): {cpu_ratio:.2f}x less CPU per event")
        if arms[0].median_rate() / arms[1].median_rate() < cpu_ratio:
            text += (f". The events/s ratio is lower than that because ZeroShop's arm kept "
                     f"{sum(busy.values()):.2f} of {_cpus()} CPUs busy, RabbitMQ's "
                     f"{sum(_cores_busy(arms[1].rounds).values()):.2f}: orders, one process "
                     f"whose one serving thread waits out each group's commit (its fsync) "
                     f"before it takes the next requests, was busy {busy[orders]:.2f} CPUs and "
                     f"sets the pace")
            if ratio_missed:
                text += (f"; {TARGET_RATIO:g}x needs orders' CPU per event lower or its "
                         f"commits overlapped with its work")
    call_ms = statistics.median(r.send_s / r.events for r in arms[0].single) * 1000
    return (text + f". With one producer, the rounds run at its pace: one `place_order` "
            f"took {call_ms:.2f} ms (median per round), a commit each (its fsync "
            f"{min(commit_ms):.2f}-{max(commit_ms):.2f} ms by the probe above), and nothing "
            f"queues up to share one.")


def _plot(arms: Sequence[ArmResult], path: Path) -> None:
    figure, first = new_figure(10, 4.2)
    figure.delaxes(first)
    bars, cdf = figure.subplots(1, 2)
    names = [a.name for a in arms]
    medians = [a.median_rate() for a in arms]
    low = [m - min(a.rates()) for m, a in zip(medians, arms, strict=True)]
    high = [max(a.rates()) - m for m, a in zip(medians, arms, strict=True)]
    bars.bar(names, medians, yerr=[low, high], capsize=6, color=COLOURS[:len(arms)])
    bars.set_ylabel("events/s, durable, 3 committing consumers")
    bars.set_title("Throughput (median, min-max over rounds)")
    for arm, colour in zip(arms, COLOURS, strict=False):
        for paced, style in zip(arm.paced.values(), ("-", "--"), strict=False):
            ms = sorted(x * 1000 for x in paced.latencies)
            cdf.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], style, color=colour,
                     label=f"{arm.name} at {paced.rate:g}/s")
    cdf.set_xscale("log")
    cdf.set_xlabel("latency, ms (log)")
    cdf.set_ylabel("fraction of events")
    cdf.axvline(TARGET_P99_MS, color="grey", linestyle=":", label="p99 target")
    cdf.set_title("Latency, paced (to the third commit)")
    cdf.legend()
    save_figure(figure, path)


if __name__ == "__main__":
    sys.exit(main())
