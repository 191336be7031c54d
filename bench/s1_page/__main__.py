"""S1: the product page over HTTP, ZeroShop against what a typical user builds instead.

Four arms, each a real set of processes on loopback (free ports, SQLite, the same seeded
catalog): ZeroShop (the gateway under uvicorn, the five services over ZeroMQ, rate limits
off), ZeroShop again with its services' reply cache off (every lookup reads the database),
and the peers (bench/peers/: five Flask + SQLAlchemy apps under gunicorn sync workers)
behind a Flask gateway under gunicorn calling them (a) one after another with requests,
(b) in parallel from a thread pool. A closed-loop client at concurrency 1, 4 and 16 asks
each arm for random product pages; every round runs every arm at each concurrency in turn,
in an order that rotates, after a warm-up that opens every product once per arm. Writes
the `s1` section of docs/BENCHMARKS.md and a plot (docs/bench-s1.png). Progress on stderr.
Nothing asserts on speed.

    .venv/bin/python -m bench.s1_page         # `make bench-s1`
    .venv/bin/python -m bench.s1_page --quick --output /tmp/b.md   # a smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from shared.catalog_seed import PRODUCT_COUNT
from shared.config import PAGE_SERVICES
from tests.support import Platform

from ..common import (
    REPORT,
    HttpSession,
    OtherLoad,
    facts_at_end,
    fill_defaults,
    machine_facts,
    progress,
    stop_on_signals,
    write_section,
)
from ..peers.processes import WORKERS, Peers
from . import closed_loop
from . import report as s1_report

ZEROSHOP, UNCACHED = "ZeroShop", "ZeroShop, reply cache off"
SEQUENTIAL, THREADS = "peers (a): in turn", "peers (b): thread pool"
ARMS = (ZEROSHOP, SEQUENTIAL, THREADS, UNCACHED)
CONCURRENCY = (1, 4, 16)
DEFAULTS = {"rounds": 5, "seconds": 3.0, "warmup_clients": 4}
QUICK = {"rounds": 2, "seconds": 1.0}
VERSIONS = ("flask", "sqlalchemy", "uvicorn", "gunicorn", "requests", "msgspec")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.s1_page", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="interleaved rounds (5)")
    parser.add_argument("--seconds", type=float,
                        help="timed seconds per arm, concurrency and round (3)")
    parser.add_argument("--warmup-clients", type=int,
                        help="clients opening every product once per arm before timing (4)")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report whose s1 section to rewrite (docs/BENCHMARKS.md)")
    parser.add_argument("--plot", type=Path,
                        help="the PNG to write (bench-s1.png beside the report)")
    args = parser.parse_args(argv)
    fill_defaults(args, DEFAULTS, QUICK)
    args.plot = args.plot or args.output.parent / "bench-s1.png"
    return args


def _warm_up(url: str, clients: int) -> None:
    """Every product page once, from `clients` threads (the peers' workers all get
    requests, SQLite pages get read, ZeroShop's reply caches fill): the timed rounds then
    see the steady state."""
    def pages(first: int) -> None:
        session = HttpSession(url)
        try:
            for pid in range(first, PRODUCT_COUNT + 1, clients):
                session.page_ok(pid)
        finally:
            session.close()

    threads = [threading.Thread(target=pages, args=(first,), daemon=True)
               for first in range(1, clients + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _rotate(arms: Sequence[str], by: int) -> list[str]:
    return [arms[(i + by) % len(arms)] for i in range(len(arms))]


def measure(urls: dict[str, str], processes: dict[str, closed_loop.Processes],
            args: argparse.Namespace) -> dict[tuple[str, int], list[closed_loop.Load]]:
    """{(arm, concurrency): one Load per round}."""
    for arm in ARMS:
        progress(f"warm-up: every product page once on {arm}")
        _warm_up(urls[arm], args.warmup_clients)
    loads: dict[tuple[str, int], list[closed_loop.Load]] = {
        (arm, c): [] for arm in ARMS for c in CONCURRENCY}
    for number in range(args.rounds):
        for step, clients in enumerate(CONCURRENCY):
            for arm in _rotate(ARMS, number + step):
                load = closed_loop.run(urls[arm], clients, args.seconds, processes[arm],
                                       seed=number * 100 + clients)
                loads[(arm, clients)].append(load)
                progress(f"round {number + 1}/{args.rounds}, c={clients:2}, {arm}: "
                         f"{load.per_second:.0f} pages/s, {load.errors} errors")
    return loads


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    stop_on_signals()
    facts = machine_facts() + [(name, version(name)) for name in VERSIONS]
    facts.append(("gunicorn workers per peer (sync)", f"{WORKERS} (2 x cores + 1)"))
    others = OtherLoad()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="zeroshop-s1-") as data:
            progress("starting ZeroShop: five services and the gateway (SQLite, temp folder)")
            shop = Platform(Path(data) / "zeroshop", services=PAGE_SERVICES, gateway=True)
            uncached: Platform | None = None
            try:
                progress("starting ZeroShop again with its reply cache off")
                uncached = Platform(Path(data) / "uncached", services=PAGE_SERVICES,
                                    gateway=True, ZEROSHOP_REPLY_CACHE="0")
                progress(f"starting the peers: 5 services + 2 gateways, {WORKERS} workers each")
                peers = Peers(Path(data))
                try:
                    urls = {ZEROSHOP: shop.url, UNCACHED: uncached.url,
                            SEQUENTIAL: peers.gateways["sequential"].url,
                            THREADS: peers.gateways["threads"].url}
                    processes = {
                        ZEROSHOP: {n: [shop.pid(n)] for n in ("gateway", *PAGE_SERVICES)},
                        UNCACHED: {n: [uncached.pid(n)] for n in ("gateway", *PAGE_SERVICES)},
                        SEQUENTIAL: peers.processes("sequential"),
                        THREADS: peers.processes("threads")}
                    loads = measure(urls, processes, args)
                finally:
                    progress("stopping the peers")
                    peers.close()
            finally:
                progress("stopping ZeroShop")
                shop.close()
                if uncached is not None:
                    uncached.close()
    except KeyboardInterrupt:
        progress("interrupted: processes stopped, report not written")
        return 130
    elapsed = time.monotonic() - started
    facts += facts_at_end(others, elapsed)
    result = s1_report.Result(ARMS, CONCURRENCY, loads, args.seconds, SEQUENTIAL, THREADS)
    s1_report.plot(result, args.plot)
    text = s1_report.render(result, _command(raw), facts, args.plot, args.output)
    write_section(args.output, "s1", text)
    progress(f"done in {elapsed:.0f} s: wrote the s1 section of {args.output} and {args.plot}")
    return 0


def _command(argv: list[str]) -> str:
    return " ".join([".venv/bin/python -m bench.s1_page", *argv])


if __name__ == "__main__":
    sys.exit(main())
