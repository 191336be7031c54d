"""The event-bus benchmark against real processes; rewrites its section of docs/BENCHMARKS.md
and leaves the other sections alone.

    make bench-events                   # same as: .venv/bin/python -m bench.events
    .venv/bin/python -m bench.events --quick --output /tmp/b.md   # a short smoke run

1. From an order to its reactions (confirmed; both notifications recorded), PUB/SUB fast
   path versus fetch-only polling: one platform per mode, side by side, orders interleaved.
2. Throughput: N orders from one client, until all are confirmed and notified, per mode.
3. One durable hop (outbox commit -> consumer committed its offset) versus RabbitMQ
   (persistent message, publisher confirms, durable queue, manual ack) on loopback.

Services run as real processes (SQLite in a temporary folder, loopback, free ports); every
process is stopped on exit, Ctrl-C and errors included. Progress goes to stderr. Nothing
asserts on speed. About 1.5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from . import event_flow, one_hop
from .common import (
    REPORT,
    OtherLoad,
    Summary,
    fill_defaults,
    load_average,
    machine_facts,
    progress,
    table,
    write_section,
)
from .event_flow import FlowShop, Mode

DEFAULTS = {"rounds": 40, "warmup": 3, "orders": 200, "hop_rounds": 100, "hop_warmup": 10,
            "hop_messages": 300, "idle_seconds": 2.0}
QUICK = {"rounds": 8, "warmup": 2, "orders": 40, "hop_rounds": 20, "hop_warmup": 3,
         "hop_messages": 40, "idle_seconds": 1.0}
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="latency rounds, one order per mode (40)")
    parser.add_argument("--warmup", type=int, help="latency warm-up rounds (3)")
    parser.add_argument("--orders", type=int, help="orders per mode for throughput (200)")
    parser.add_argument("--batches", type=int, default=4,
                        help="throughput batches per mode, interleaved across modes (4)")
    parser.add_argument("--poll-ms", default="50,10",
                        help="fetch-only modes to compare with PUB/SUB, comma-separated "
                             "ZEROSHOP_EVENTS_POLL_MS values (50,10)")
    parser.add_argument("--poll-sleep-ms", type=float, default=1.0,
                        help="sleep between two get_order calls while waiting (1)")
    parser.add_argument("--idle-seconds", type=float, help="idle CPU window per platform (2)")
    parser.add_argument("--hop-rounds", type=int, help="one-hop latency rounds (100)")
    parser.add_argument("--hop-warmup", type=int, help="one-hop warm-up rounds (10)")
    parser.add_argument("--hop-messages", type=int,
                        help="one-hop throughput messages per variant (300)")
    parser.add_argument("--rabbitmq", default=RABBITMQ,
                        help=f"the broker for part 3, loopback only ({RABBITMQ})")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report whose event-bus section to rewrite "
                             "(docs/BENCHMARKS.md)")
    args = parser.parse_args(argv)
    fill_defaults(args, DEFAULTS, QUICK)
    try:
        args.modes = [Mode("pubsub", 0)] + [Mode(f"poll{int(ms)}", int(ms))
                                            for ms in args.poll_ms.split(",") if ms.strip()]
        args.target = one_hop.RabbitTarget.parse(args.rabbitmq)
    except ValueError as exc:
        parser.error(str(exc))
    if any(m.poll_ms <= 0 for m in args.modes[1:]):
        parser.error("--poll-ms values must be positive")
    return args


def _command(argv: list[str]) -> str:
    if not argv:
        return "`make bench-events` (or `.venv/bin/python -m bench.events`; `make bench` " \
               "runs it after the product-page benchmark)"
    return f"`.venv/bin/python -m bench.events {' '.join(argv)}`"


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: the finally blocks run


def _sqlite_fact() -> str:
    db = sqlite3.connect(":memory:")
    try:
        mode = db.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        db.close()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return (f"{sqlite3.sqlite_version}, WAL, synchronous={names.get(mode, mode)} "
            f"(the services' setting: every commit waits for fsync of the WAL)")


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, _terminate)
    facts = machine_facts() + [("SQLite", _sqlite_fact())]
    others = OtherLoad()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="zeroshop-bench-events-") as tmp:
            data = Path(tmp)
            shops: list[FlowShop] = []
            try:
                for mode in args.modes:
                    progress(f"starting {len(event_flow.FLOW)} services: {mode.label}")
                    shops.append(FlowShop(mode, data / mode.key))
                progress(f"1/3 order -> reactions latency: {args.rounds} rounds x "
                         f"{len(shops)} modes")
                latency = event_flow.run_latency(shops, args.rounds, args.warmup,
                                                 args.poll_sleep_ms)
                progress(f"idle CPU of each platform over {args.idle_seconds:g} s")
                idle = event_flow.measure_idle(shops, args.idle_seconds)
                progress(f"2/3 throughput: {args.orders} orders per mode")
                runs = event_flow.run_throughput(shops, args.orders, args.batches)
            finally:
                progress("stopping the flow platforms")
                for shop in shops:
                    shop.terminate()
                for shop in shops:
                    shop.close()
            progress("3/3 one durable hop: ZeroShop versus RabbitMQ")
            hop = one_hop.run(data, args.target, args.hop_rounds, args.hop_warmup,
                              args.hop_messages)
    except KeyboardInterrupt:
        progress("interrupted: processes stopped, report not written")
        return 130
    elapsed = time.monotonic() - started
    throughput = event_flow.ThroughputResult(runs, event_flow.deliveries_per_order(), idle,
                                             args.idle_seconds, args.batches)
    facts += [("RabbitMQ (part 3)", hop.rabbit),
              ("load average at end (1/5/15 min)", load_average()),
              ("CPU used by other processes during the run", others.describe()),
              ("benchmark wall time", f"{elapsed:.0f} s")]
    write_section(args.output, "events", _report(raw, facts, latency, throughput, hop))
    progress(f"done in {elapsed:.0f} s: wrote the event-bus section of {args.output}")
    return 0


def _median(values: list[float]) -> float:
    return Summary.of(values).median_ms


def _meaning(latency: event_flow.LatencyResult, throughput: event_flow.ThroughputResult,
             hop: one_hop.HopResult) -> str:
    pub, *polls = latency.samples
    sentences = [
        f"With PUB/SUB an order was confirmed {_median(pub.confirmed):.1f} ms after "
        f"`place_order` answered and had both notifications sent and recorded after "
        f"{_median(pub.recorded):.1f} ms (medians)"
        + "".join(f"; fetch-only every {s.mode.poll_ms} ms took "
                  f"{_median(s.confirmed):.1f} and {_median(s.recorded):.1f} ms"
                  for s in polls)
        + "." + _idle_sentence(latency, throughput)]
    runs = [r for r in throughput.runs if r.recorded_s > 0]
    if runs:
        best = runs[0]
        sentences.append(
            f"Under load PUB/SUB carried {best.orders / best.recorded_s:.0f} orders/s, "
            f"{len(event_flow.ORDER_EVENTS) * best.orders / best.recorded_s:.0f} events/s "
            f"or {throughput.deliveries * best.orders / best.recorded_s:.0f} consumer "
            f"transactions/s; its five services used {best.cpu_s / best.recorded_s:.2f} "
            f"cores meanwhile, {best.cpu_s / best.orders * 1000:.0f} ms of CPU per order "
            f"(Python, SQLAlchemy, an fsync'd SQLite commit per delivery and per relay pass) "
            f"on a machine whose other work is shown above.")
    if hop.rabbit_ok and len(hop.samples) >= 3:
        zs, rabbit, rabbit_db = hop.samples[:3]
        after, whole = _median(zs.after), _median(rabbit_db.hop)
        like = ("about what" if whole > 0 and 0.75 <= after / whole <= 1.33
                else "to be compared with what")
        sentences.append(
            f"One durable hop took {_median(zs.hop):.2f} ms with ZeroShop against "
            f"{_median(rabbit.hop):.2f} ms through RabbitMQ ({zs.throughput:.0f} against "
            f"{rabbit.throughput:.0f} messages/s). Of ZeroShop's time, "
            f"{_median(zs.send):.2f} ms is `place_order` committing a whole order, and the "
            f"part after that commit, outbox -> relay -> consumer commit ({after:.2f} ms), "
            f"is {like} "
            f"RabbitMQ needs for the whole hop once its consumer also commits to SQLite "
            f"({whole:.2f} ms).")
    return " ".join(sentences)


def _idle_sentence(latency: event_flow.LatencyResult,
                   throughput: event_flow.ThroughputResult) -> str:
    """What polling costs while nobody orders: every consumer fetches every interval."""
    idle = throughput.idle
    polls = [s.mode for s in latency.samples if s.mode.poll_ms]
    if "pubsub" not in idle or not polls:
        return ""
    costs = ", ".join(f"{idle.get(m.key, float('nan')):.2f} cores at {m.poll_ms} ms"
                      for m in polls)
    return (f" Polling is not free when idle: the fetch-only platforms used {costs}, "
            f"against {idle['pubsub']:.2f} with PUB/SUB, whose consumers sleep until a "
            f"message or a heartbeat arrives.")


def _report(argv: list[str], facts: list[tuple[str, str]], latency: event_flow.LatencyResult,
            throughput: event_flow.ThroughputResult, hop: one_hop.HopResult) -> str:
    modes = ", ".join(s.mode.label for s in latency.samples)
    return "\n\n".join([
        "## Event bus: order reactions, throughput, one hop versus RabbitMQ (bench/events.py)",
        f"Reproduce: {_command(argv)}. It starts orders, inventory, email, sms and "
        f"recommendation as real processes once per consumer mode ({modes}; SQLite in a "
        f"temporary folder, loopback, free ports, heartbeat every 1 s as in production), "
        f"then orders alone for part 3, and stops everything.",
        "### Machine",
        table(["fact", "value"], [[k, v] for k, v in facts]),
        "Client, services and RabbitMQ share this machine's CPUs; other work on it adds "
        "noise. While one platform is measured the others are frozen (SIGSTOP), so the modes "
        "do not compete for the CPUs; their idle cost is measured on its own in part 2.",
        "### What the numbers mean",
        _meaning(latency, throughput, hop),
        "### 1. From an order to its reactions: PUB/SUB versus fetch-only",
        event_flow.render_latency(latency),
        "### 2. Throughput: one client placing orders as fast as it can",
        event_flow.render_throughput(throughput),
        "### 3. One durable hop versus RabbitMQ",
        one_hop.render(hop),
        "What is equal: one producer and one consumer thread in this Python process, "
        "loopback TCP, the same message bytes, the producer waits until the message is "
        "durable before sending the next, the consumer's work counts only once it is "
        "committed or acknowledged, and the variants are interleaved message by message.",
        "What is not: ZeroShop's send is an RPC to the orders process, which commits a "
        "whole order (order, line, timeline entry and outbox row) in SQLite; its relay then "
        "reads the outbox and publishes, and the consumer commits a second SQLite "
        "transaction (effect + offset). Both commits wait for fsync (synchronous=FULL). "
        "RabbitMQ's durability is its own message store: a persistent message on a "
        "durable queue is confirmed once it is written to disk or once every queue's "
        "consumer has acknowledged it (RabbitMQ's documented behaviour), so a message "
        "consumed at once may never be written at all, and the plain variant's consumer "
        "keeps no record, so a redelivery after a crash would be applied twice. The third "
        "row adds what ZeroShop's offset gives: a SQLite commit of the effect keyed by "
        "message id before the ack. RabbitMQ runs as a separate, multi-threaded Erlang "
        "process; ZeroShop's relay is a thread inside the publishing service.",
    ]).replace("\n\n\n\n", "\n\n")


if __name__ == "__main__":
    sys.exit(main())
