"""S2's command line: start the platform with injected latency, run parts 1 and 2, write
the `s2` section of the report and its plot. Every process is stopped on exit, Ctrl-C and
errors included. Progress on stderr; nothing asserts on speed."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    REPORT,
    HttpSession,
    OtherLoad,
    facts_at_end,
    fill_defaults,
    machine_facts,
    plot_path,
    progress,
    stop_on_signals,
    write_section,
)
from shared.config import PAGE_SERVICES
from shared.messaging import RpcClient, new_context
from tests.support import Platform, wait_for

from . import hung, report, serve, stragglers

DEFAULTS = {"rounds": 8, "pages": 250, "interval_ms": 10.0, "warmup": 100, "hung_pages": 100,
            "hung_seconds": 8.0, "deadline_ms": 10, "io_ms": 2.0, "slow_ms": 20.0,
            "slow_share": 0.01, "reply_cache": "on"}
QUICK = {"rounds": 2, "pages": 60, "warmup": 20, "hung_pages": 20, "hung_seconds": 3.0}
LOWEST_DEADLINE_MS = 10  # what PAGE_DEADLINE_MS accepts (shared/config.py)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.s2_stragglers",
                                     description=sys.modules["bench.s2_stragglers"].__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="interleaved rounds (8)")
    parser.add_argument("--pages", type=int, help="pages per arm and round (250)")
    parser.add_argument("--interval-ms", type=float,
                        help="a page starts at most this often, per arm (10)")
    parser.add_argument("--warmup", type=int, help="warm-up pages per arm (100)")
    parser.add_argument("--hung-pages", type=int,
                        help="part 2: pages before the hang and after recovery (100)")
    parser.add_argument("--hung-seconds", type=float,
                        help="part 2: how long recommendation stays SIGSTOPped (8)")
    parser.add_argument("--deadline-ms", type=int,
                        help="PAGE_DEADLINE_MS of the gateway and the direct arms (10)")
    parser.add_argument("--io-ms", type=float, help="injected I/O per call (2)")
    parser.add_argument("--slow-ms", type=float, help="injected I/O of a straggler (20)")
    parser.add_argument("--slow-share", type=float, help="share of calls that straggle (0.01)")
    parser.add_argument("--reply-cache", choices=("on", "off"),
                        help="the services' reply cache (on, as shipped; off: every lookup "
                             "also reads SQLite)")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report whose s2 section to rewrite (docs/BENCHMARKS.md)")
    args = parser.parse_args(argv)
    fill_defaults(args, DEFAULTS, QUICK)
    if args.deadline_ms < LOWEST_DEADLINE_MS:
        parser.error(f"--deadline-ms: the gateway's PAGE_DEADLINE_MS takes {LOWEST_DEADLINE_MS} "
                     f"or more")
    return args


def start_platform(data: Path, args: argparse.Namespace) -> Platform:
    """The five page services through the bench's launcher, then the real gateway."""
    cache = {} if args.reply_cache == "on" else {"ZEROSHOP_REPLY_CACHE": "0"}
    shop = Platform(data, services=(), gateway=False, PAGE_DEADLINE_MS=str(args.deadline_ms),
                    **cache)
    injected = {serve.IO_MS: str(args.io_ms), serve.SLOW_MS: str(args.slow_ms),
                serve.SLOW_SHARE: str(args.slow_share)}
    try:
        children = [shop.group.spawn(name, "bench.s2_stragglers.serve",
                                     {**shop.env, **injected, serve.SERVICE: name})
                    for name in PAGE_SERVICES]
        shop.group.wait_ready(children)
        shop.endpoints.update({child.name: child.endpoint for child in children})
        shop.url = shop.group.start("gateway", "gateway", shop.env).endpoint
    except BaseException:
        shop.close()
        raise
    return shop


def _wait_for_complete_page(url: str, timeout: float = 30.0) -> None:
    session = HttpSession(url)
    try:
        wait_for(lambda: session.page_ok(1), timeout=timeout, interval=0.1,
                 what="a complete product page")
    finally:
        session.close()


def measure(shop: Platform, args: argparse.Namespace
            ) -> tuple[stragglers.StragglerResult, hung.DegradationResult]:
    ctx = new_context(None)
    clients: list[RpcClient] = []

    def new_client() -> RpcClient:
        clients.append(RpcClient(ctx, shop.endpoints))
        return clients[-1]

    try:
        progress(f"1/2 stragglers: {args.rounds} rounds x {len(stragglers.ARMS)} arms x "
                 f"{args.pages} pages, deadline {args.deadline_ms} ms")
        part1 = stragglers.run(shop.url, new_client, args.deadline_ms, args.rounds,
                               args.pages, args.warmup,
                               (args.io_ms, args.slow_ms, args.slow_share), args.interval_ms)
        part1.reply_cache = args.reply_cache == "on"
    finally:
        for client in clients:
            client.close()
        ctx.term()
    progress("2/2 hung service: recommendation SIGSTOPped")
    part2 = hung.run(shop.url, shop.signal, args.deadline_ms, args.hung_pages,
                     args.hung_seconds)
    return part1, part2


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    stop_on_signals()
    facts = machine_facts()
    others = OtherLoad()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="zeroshop-s2-") as data:
            progress("starting the five services (latency injected) and the gateway")
            shop = start_platform(Path(data), args)
            try:
                _wait_for_complete_page(shop.url)
                part1, part2 = measure(shop, args)
            finally:
                progress("stopping every process")
                shop.close()
    except KeyboardInterrupt:
        progress("interrupted: processes stopped, report not written")
        return 130
    elapsed = time.monotonic() - started
    facts += facts_at_end(others, elapsed)
    plot = plot_path("s2", args.output)
    report.plot(part1, part2, plot)
    command = " ".join([".venv/bin/python -m bench.s2_stragglers", *raw])
    write_section(args.output, "s2", report.render(part1, part2, command, facts, plot,
                                                   args.output))
    progress(f"done in {elapsed:.0f} s: wrote the s2 section of {args.output} and {plot}")
    return 0
