"""The read path, measured where it runs: CPU per catalog lookup in each page service, and per
product page summed over the five service processes and the calling client, with the reply
cache on (the default) and off (`ZEROSHOP_REPLY_CACHE=0`), in interleaved rounds.

Two platforms of the five page services run side by side (real processes, SQLite in a
temporary folder, loopback, free ports), one with the cache and one without; each round
sends the same pages to both, one after the other. Pages walk the 520 products in turn,
so after the first pass a cached platform answers from memory, as it would a shop's
steady browsing; the first pass (every product new) is the cold case and is reported alone.

    .venv/bin/python -m bench.s1_page.read_path --pages 520 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from shared.catalog_seed import PRODUCT_COUNT
from shared.config import PAGE_SERVICES, loopback_env
from shared.messaging import RpcClient, new_context
from shared.supervisor import ProcessGroup

from ..common import cpu_seconds, page_calls, progress, table

ARMS = {"cache on": "4096", "cache off": "0"}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.s1_page.read_path", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=PRODUCT_COUNT, help="pages per round")
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args(argv)


class Arm:
    """One platform of the five page services and a client calling it."""

    def __init__(self, folder: Path, cache: str) -> None:
        env = loopback_env(os.environ, folder)
        env.update(ZEROSHOP_REPLY_CACHE=cache, ZEROSHOP_LOG_LEVEL="WARNING")
        self.group = ProcessGroup()
        self.group.start_all([(n, f"services.{n}") for n in PAGE_SERVICES], env, timeout=60)
        self.ctx = new_context()
        self.client = RpcClient(self.ctx, {n: env[f"{n.upper()}_ENDPOINT"]
                                           for n in PAGE_SERVICES})

    def cpu(self) -> dict[str, float]:
        return {n: cpu_seconds(self.group.pid(n)) for n in PAGE_SERVICES}

    def pages(self, count: int, offset: int) -> tuple[dict[str, float], float]:
        """CPU seconds per service and for this client over `count` pages."""
        before, mine = self.cpu(), time.process_time()
        for i in range(count):
            product_id = (offset + i) % PRODUCT_COUNT + 1
            outcomes = self.client.gather(page_calls(product_id), 2000)
            if not all(o.ok for o in outcomes):
                raise RuntimeError(f"page {product_id}: {[o.error for o in outcomes]}")
        after = self.cpu()
        return {n: after[n] - before[n] for n in PAGE_SERVICES}, time.process_time() - mine

    def close(self) -> None:
        self.client.close()
        self.ctx.term()
        self.group.stop_all()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory() as folder:
        arms = {name: Arm(Path(folder) / name.replace(" ", "-"), cache)
                for name, cache in ARMS.items()}
        try:
            results: dict[str, list[tuple[dict[str, float], float]]] = {a: [] for a in arms}
            cold: dict[str, tuple[dict[str, float], float]] = {}
            for name, arm in arms.items():  # the first pass: every product new
                cold[name] = arm.pages(PRODUCT_COUNT, 0)
            for number in range(1, args.rounds + 1):
                progress(f"round {number} of {args.rounds}: {args.pages} pages per arm")
                order = list(arms) if number % 2 else list(reversed(arms))
                for name in order:
                    results[name].append(arms[name].pages(args.pages, number * 7))
        finally:
            for arm in arms.values():
                arm.close()
    print(_report(args, results, cold))
    return 0


def _us(seconds: float, pages: int) -> str:
    return f"{seconds / pages * 1e6:,.0f}"


def _report(args: argparse.Namespace, results: dict[str, list[Any]],
            cold: dict[str, Any]) -> str:
    headers = ["arm", *[f"{n} us" for n in PAGE_SERVICES], "client us", "page us (all)"]
    rows = []
    for name, runs in results.items():
        services = {n: statistics.median(r[0][n] for r in runs) for n in PAGE_SERVICES}
        client = statistics.median(r[1] for r in runs)
        rows.append([name, *[_us(services[n], args.pages) for n in PAGE_SERVICES],
                     _us(client, args.pages), _us(sum(services.values()) + client, args.pages)])
    for name, (services, client) in cold.items():
        rows.append([f"{name}, first pass", *[_us(services[n], PRODUCT_COUNT)
                                              for n in PAGE_SERVICES],
                     _us(client, PRODUCT_COUNT),
                     _us(sum(services.values()) + client, PRODUCT_COUNT)])
    return (f"CPU per product page (microseconds; median of {args.rounds} interleaved rounds of "
            f"{args.pages} pages; first pass: {PRODUCT_COUNT} pages, every product new)\n\n"
            + table(headers, rows))


if __name__ == "__main__":
    raise SystemExit(main())
