"""`python -m bench.s0_rpc`: start every process, run both parts, profile a missed target,
stop everything (errors and Ctrl-C included) and write the report."""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import zmq

from shared.catalog_seed import PRODUCT_COUNT
from shared.config import PAGE_SERVICES, free_port
from shared.messaging import RpcClient, new_context
from shared.messaging.codec import Request, encode_request
from shared.supervisor import ProcessGroup
from tests.support import Platform, wait_for

from ..common import (
    REPORT,
    OtherLoad,
    facts_at_end,
    fill_defaults,
    machine_facts,
    page_calls,
    percentile,
    plot_path,
    progress,
    stop_on_signals,
    write_section,
)
from . import __doc__ as DESCRIPTION
from . import measure, profile, report
from .measure import CLIENT, Arm, BareFanout

SHIPPED, UNCACHED = "ZeroShop, as shipped (reply cache on)", "ZeroShop, reply cache off"
ZERO = "Zero (zeroapi)"
GATHER, SEQUENTIAL = "ZeroShop: gather of 5", "ZeroShop: 5 in turn"
BARE = "bare pyzmq 5-way fan-out"
DEFAULTS = {"rounds": 12, "calls": 2000, "page_rounds": 12, "pages": 1200,
            "profile_seconds": 3.0, "seed": 1}
QUICK = {"rounds": 2, "calls": 200, "page_rounds": 2, "pages": 50, "profile_seconds": 1.0}
VERSIONS = ("zeroapi", "msgspec", "sqlalchemy")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.s0_rpc", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="round-trip rounds (12)")
    parser.add_argument("--calls", type=int, help="calls per arm and round-trip round (2000)")
    parser.add_argument("--page-rounds", type=int, help="page rounds (12)")
    parser.add_argument("--pages", type=int, help="pages per arm and page round (1200)")
    parser.add_argument("--profile-seconds", type=float,
                        help="how long each missed target's arm is profiled (3)")
    parser.add_argument("--seed", type=int, help="of the random product ids (1)")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report whose s0 section to rewrite (docs/BENCHMARKS.md); "
                             "the plot goes beside it")
    args = parser.parse_args(argv)
    fill_defaults(args, DEFAULTS, QUICK)
    return args


# --- processes ------------------------------------------------------------------------------

def _real_reply(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, call: Any) -> bytes:
    """The bytes a real service answers to `call` (with an id, as RpcClient's requests
    have): the bare servers answer these, so their replies are the real size."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        body = encode_request(Request(method=call.method, id=f"{os.getpid():x}-s0-1",
                                      deadline=time.time() + 10), call.params)
        sock.send_multipart([b"", body])
        if not sock.poll(10_000):
            raise RuntimeError(f"no reply from {endpoint} for the bare servers' reply")
        return sock.recv_multipart()[-1]
    finally:
        sock.close(linger=0)


def _start_bare(group: ProcessGroup, folder: Path, replies: Sequence[bytes]) -> list[str]:
    """One bare ROUTER process per page service (as the real services are laid out)."""
    children = []
    for service, reply in zip(PAGE_SERVICES, replies, strict=True):
        reply_file = folder / f"bare-{service}.reply"
        reply_file.write_bytes(reply)
        children.append(group.spawn(f"bare {service}", "bench.s0_rpc.bare_server",
                                    {**os.environ, "S0_BARE_REPLY": str(reply_file)}))
    return [child.endpoint for child in group.wait_ready(children)]


def _children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Zero's worker pool), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _all_there(found: list[int], expected: int) -> list[int] | None:
    return found if len(found) >= expected else None


@contextmanager
def _zero_server(group: ProcessGroup, folder: Path, database_url: str) -> Iterator[
        tuple[Any, dict[str, int]]]:
    """Zero's server (its broker and worker pool) and a ZeroClient that got an answer; on
    exit every one of its processes is gone, the workers too (the pool has no
    parent-death signal)."""
    from zero import ZeroClient

    logging.getLogger().setLevel(logging.WARNING)  # importing zero set the root to INFO
    port = free_port()
    group.start("zero", "bench.s0_rpc.zero_server", {
        **os.environ, "S0_ZERO_PORT": str(port), "S0_ZERO_DATABASE_URL": database_url,
        "S0_ZERO_FOLDER": str(folder)})
    broker = group.pid("zero")
    workers: list[int] = []
    client = ZeroClient("127.0.0.1", port)
    try:
        call = measure.zero_price(client)
        wait_for(lambda: call(1), timeout=30, interval=0.2, what="Zero's first answer")
        expected = os.cpu_count() or 1  # Zero's default: one worker per CPU
        workers = wait_for(lambda: _all_there(_children_of(broker), expected), timeout=20,
                           interval=0.1, what="Zero's workers")
        pids = {"Zero broker": broker}
        pids.update({f"Zero worker {n}": pid for n, pid in enumerate(workers, 1)})
        yield client, pids
    finally:
        client.close()
        group.stop("zero")
        for pid in workers:  # normally gone with the pool; never leave one behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- the run ---------------------------------------------------------------------------------

def _run(args: argparse.Namespace, folder: Path) -> report.Result:
    with ExitStack() as stack:
        progress("starting the five page services as shipped (SQLite in a temp folder)")
        shop = Platform(folder / "shop", services=PAGE_SERVICES, gateway=False)
        stack.callback(shop.close)
        progress("starting pricing again with its reply cache off, on the same SQLite file")
        uncached = Platform(folder / "shop", services=("pricing",), gateway=False,
                            ZEROSHOP_REPLY_CACHE="0")
        stack.callback(uncached.close)
        helpers = ProcessGroup()
        stack.callback(helpers.stop_all)
        progress("starting Zero's server on the same pricing.db")
        zero_client, zero_pids = stack.enter_context(_zero_server(
            helpers, folder, f"sqlite:///{folder / 'shop' / 'pricing.db'}"))
        ctx = new_context()
        stack.callback(ctx.term)
        progress("starting five bare pyzmq ROUTER servers, one process each")
        replies = [_real_reply(ctx, shop.endpoints[c.service], c) for c in page_calls(1)]
        bare = BareFanout(ctx, _start_bare(helpers, folder, replies))
        stack.callback(bare.close)
        shipped_rpc = RpcClient(ctx, shop.endpoints)
        stack.callback(shipped_rpc.close)
        uncached_rpc = RpcClient(ctx, uncached.endpoints)
        stack.callback(uncached_rpc.close)

        services = {name: shop.pid(name) for name in PAGE_SERVICES}
        trip_arms = [
            Arm(SHIPPED, measure.zeroshop_price(shipped_rpc), {"pricing": shop.pid("pricing")}),
            Arm(UNCACHED, measure.zeroshop_price(uncached_rpc),
                {"pricing (cache off)": uncached.pid("pricing")}),
            Arm(ZERO, measure.zero_price(zero_client), zero_pids)]
        page_arms = [
            Arm(GATHER, measure.gathered_page(shipped_rpc), services),
            Arm(SEQUENTIAL, measure.sequential_page(shipped_rpc), services),
            Arm(BARE, bare.page, {f"bare {name}": helpers.pid(f"bare {name}")
                                  for name in PAGE_SERVICES})]
        measure.warm_up(trip_arms, "1/2 round trip")
        trip = measure.interleave(trip_arms, args.rounds, args.calls, args.seed,
                                  "1/2 round trip")
        measure.warm_up(page_arms, "2/2 page")
        page = measure.interleave(page_arms, args.page_rounds, args.pages, args.seed + 1,
                                  "2/2 page")
        result = report.Result(trip, page, (args.rounds, args.page_rounds),
                               (args.calls, args.pages), "one process each",
                               len(zero_pids) - 1, [])
        result.profiles.extend(_profile_misses(result, trip_arms + page_arms, args))
        progress("stopping every process")
    return result


def _profile_misses(result: report.Result, arms: Sequence[Arm],
                    args: argparse.Namespace) -> list[profile.Profile]:
    """Profile ZeroShop's arm of each missed target (its client and its servers)."""
    by_name = {arm.name: arm for arm in arms}
    ids = [random.Random(args.seed).randint(1, PRODUCT_COUNT) for _ in range(500)]
    found = []
    for target, arm_name, baseline, part in zip(
            report.targets(result), (SHIPPED, UNCACHED, GATHER), (ZERO, ZERO, BARE),
            (result.round_trip, result.round_trip, result.page), strict=True):
        if target.met:
            continue
        progress(f"profiling {arm_name} for {args.profile_seconds:g} s (missed: {target.what})")
        names = (arm_name, baseline)
        summary = profile.cpu_summary(
            arm_name, baseline, {n: percentile(part.latencies(n), 50) * 1e6 for n in names},
            {n: part.cpu_us(n) for n in names}, CLIENT)
        found.append(profile.profile_arm(target.what, by_name[arm_name], ids,
                                         args.profile_seconds, summary))
    return found


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    stop_on_signals()
    facts = machine_facts() + [(name, version(name)) for name in VERSIONS]
    others = OtherLoad()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="zeroshop-s0-") as data:
            result = _run(args, Path(data))
    except KeyboardInterrupt:
        progress("interrupted: processes stopped, report not written")
        return 130
    elapsed = time.monotonic() - started
    facts += [("Zero server processes", f"broker + {result.zero_workers} workers (its default)"),
              *facts_at_end(others, elapsed)]
    png = plot_path("s0", args.output)
    progress(f"drawing {png}")
    report.plot(result, png)
    command = " ".join([".venv/bin/python -m bench.s0_rpc", *raw])
    write_section(args.output, "s0", report.render(result, command, facts, png, args.output))
    progress(f"done in {elapsed:.0f} s: wrote the s0 section of {args.output} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
