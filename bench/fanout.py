"""The product-page benchmarks (fan-out, HTTP, degradation) against real processes; rewrites
their section of docs/BENCHMARKS.md and leaves the other sections alone.

    .venv/bin/python -m bench.fanout    # `make bench` runs this, then bench.events
    .venv/bin/python -m bench.fanout --quick --output /tmp/b.md   # a short smoke run

One platform (five services + gateway, SQLite in a temporary folder, loopback, free ports)
serves all three benchmarks; every process is stopped on exit, Ctrl-C and errors included.
Progress goes to stderr. Nothing asserts on speed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from shared.config import PAGE_SERVICES
from tests.support import Platform, wait_for

from . import degradation, gateway_http, rpc_fanout
from .common import (
    REPORT,
    HttpSession,
    OtherLoad,
    fill_defaults,
    load_average,
    machine_facts,
    progress,
    table,
    write_section,
)

DEFAULT_OUTPUT = REPORT
DEFAULTS = {"rounds": 600, "warmup": 50, "requests": 300, "degraded_requests": 50,
            "hung_seconds": 8.0, "deadline_ms": 300}
QUICK = {"rounds": 60, "warmup": 10, "requests": 40, "degraded_requests": 10,
         "hung_seconds": 4.0}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="fan-out rounds per variant (600)")
    parser.add_argument("--warmup", type=int, help="fan-out warm-up rounds (50)")
    parser.add_argument("--requests", type=int,
                        help="HTTP requests per configuration and pass (300)")
    parser.add_argument("--degraded-requests", type=int,
                        help="pages before and after the hang (50)")
    parser.add_argument("--hung-seconds", type=float,
                        help="how long recommendation stays SIGSTOPped (8)")
    parser.add_argument("--deadline-ms", type=int, help="PAGE_DEADLINE_MS of the gateway (300)")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="the report whose fan-out section to rewrite "
                             "(docs/BENCHMARKS.md)")
    args = parser.parse_args(argv)
    fill_defaults(args, DEFAULTS, QUICK)
    return args


def _command(argv: list[str]) -> str:
    if not argv:
        return "`.venv/bin/python -m bench.fanout` (`make bench` runs it, then bench.events)"
    return f"`.venv/bin/python -m bench.fanout {' '.join(argv)}`"


def _wait_for_complete_page(url: str, timeout: float = 30.0) -> None:
    """Ready for the benchmark: a product page with every section (not /readyz, which may
    also ask services this benchmark does not start)."""
    session = HttpSession(url)
    try:
        wait_for(lambda: session.page_ok(1), timeout=timeout, interval=0.1,
                 what="a complete product page")
    finally:
        session.close()


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: the finally blocks run


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    signal.signal(signal.SIGTERM, _terminate)
    facts = machine_facts()
    others = OtherLoad()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="zeroshop-bench-") as data:
            progress("starting the five services and the gateway (SQLite in a temp folder)")
            shop = Platform(Path(data), services=PAGE_SERVICES, gateway=True,
                            PAGE_DEADLINE_MS=str(args.deadline_ms))
            try:
                _wait_for_complete_page(shop.url)
                pids = {name: shop.pid(name) for name in PAGE_SERVICES}
                progress(f"1/3 fan-out: {args.rounds} rounds x 3 variants")
                fanout = rpc_fanout.run(shop.endpoints, pids, args.rounds, args.warmup)
                progress("2/3 HTTP end to end")
                http = gateway_http.run(shop.url, shop.endpoints, args.requests)
                progress("3/3 degradation: recommendation hung")
                degraded = degradation.run(shop.url, shop.signal, args.deadline_ms,
                                           args.degraded_requests, args.hung_seconds)
            finally:
                progress("stopping every process")
                shop.close()
    except KeyboardInterrupt:
        progress("interrupted: processes stopped, report not written")
        return 130
    elapsed = time.monotonic() - started
    facts += [("load average at end (1/5/15 min)", load_average()),
              ("CPU used by other processes during the run", others.describe()),
              ("benchmark wall time", f"{elapsed:.0f} s")]
    write_section(args.output, "fanout", _report(raw, facts, fanout, http, degraded))
    progress(f"done in {elapsed:.0f} s: wrote the fan-out section of {args.output}")
    return 0


def _report(argv: list[str], facts: list[tuple[str, str]], fanout: rpc_fanout.FanoutResult,
            http: gateway_http.HttpResult, degraded: degradation.DegradationResult) -> str:
    return "\n\n".join([
        "## Product page: fan-out, HTTP and degradation (bench/fanout.py)",
        f"Reproduce: {_command(argv)}. It starts the five catalog services and the gateway "
        f"as real processes (SQLite in a temporary folder, loopback, free ports), runs the "
        f"three benchmarks below and stops everything.",
        "### Machine",
        table(["fact", "value"], [[k, v] for k, v in facts]),
        "Client, gateway and all five services run on this one machine and share its CPUs; "
        "other work on the machine (load average, CPU used by other processes) adds noise.",
        "### 1. Product-page fan-out: five calls at once versus one after another",
        "The five calls the product page makes (product.get, inventory.get_stock, "
        "pricing.get_price, discount.get_discount, recommendation.recommend limit 4), "
        "straight to the services, without the gateway. No latency is injected anywhere: the "
        "services do their real work (SQLAlchemy over SQLite, msgspec validation).",
        rpc_fanout.render(fanout),
        "### 2. HTTP end to end",
        gateway_http.render(http),
        "### 3. Degradation cost: recommendation hung",
        degradation.render(degraded),
    ]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
