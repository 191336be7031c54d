"""What CurveZMQ costs: the product page and its five calls, plain and with CURVE on.

    .venv/bin/python -m bench.feature_costs.curve [--pages 400] [--connects 40]

Each mode starts the five page services and the gateway on free ports (CURVE: with keys
from `zeroshop keys generate`, rate limits off in both), then measures from one client:
GET /api/products/{id} over one keep-alive connection; the five calls direct
(RpcClient.gather, no HTTP); and the first call on a new connection (connect, handshake,
ZAP check, reply). Plain and CURVE alternate twice and the passes are pooled. Rewrites the
`curve` section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shared.catalog_seed import PRODUCT_COUNT
from shared.config import PAGE_SERVICES
from shared.contracts import Health, NoParams
from shared.messaging import Call, Keyring, RpcClient, new_context
from tests.support import Platform

from ..common import (
    REPORT,
    HttpSession,
    Summary,
    fmt_ms,
    fmt_ratio,
    load_average,
    page_calls,
    progress,
    table,
    write_section,
)

MODES = ("plain", "CURVE")


def _timed(action: Callable[[int], bool], count: int, rng: random.Random) -> list[float]:
    seconds = []
    for _ in range(count):
        product_id = rng.randint(1, PRODUCT_COUNT)
        start = time.perf_counter()
        if action(product_id):
            seconds.append(time.perf_counter() - start)
    return seconds


def _measure(mode: str, keys_dir: Path, pages: int, connects: int,
             results: dict[tuple[str, str], list[float]]) -> None:
    env = {"ZEROSHOP_RATE_LIMIT": "off"}
    if mode == "CURVE":
        env["ZEROSHOP_CURVE_KEYS"] = str(keys_dir)
    keys = Keyring.load(keys_dir, "cli") if mode == "CURVE" else None
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as data:
        shop = Platform(Path(data), PAGE_SERVICES, gateway=True, **env)
        ctx = new_context(keys)
        client = RpcClient(ctx, shop.env_endpoints())
        http = HttpSession(shop.url)
        try:
            _timed(http.page_ok, 50, rng)  # warm-up: caches, connections
            _timed(lambda p: all(o.ok for o in client.gather(page_calls(p), 1000)), 50, rng)
            results[(mode, "page")] += _timed(http.page_ok, pages, rng)
            results[(mode, "direct")] += _timed(
                lambda p: all(o.ok for o in client.gather(page_calls(p), 1000)), pages, rng)

            def first_call(_: int) -> bool:
                fresh = RpcClient(ctx, shop.env_endpoints())
                try:
                    return fresh.gather([Call("pricing", "health", NoParams(), Health)],
                                        2000)[0].ok
                finally:
                    fresh.close()
            results[(mode, "connect")] += _timed(first_call, connects, rng)
        finally:
            http.close()
            client.close()
            ctx.term()
            shop.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.feature_costs.curve", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=400, help="pages per mode and pass")
    parser.add_argument("--connects", type=int, default=40, help="new connections per pass")
    args = parser.parse_args(argv)
    results: dict[tuple[str, str], list[float]] = {
        (m, k): [] for m in MODES for k in ("page", "direct", "connect")}
    load = load_average()
    with tempfile.TemporaryDirectory() as folder:
        keys_dir = Path(folder) / "keys"
        subprocess.run([sys.executable, "-m", "shared.cli", "keys", "generate", str(keys_dir)],
                       check=True, capture_output=True)
        for order in (MODES, MODES[::-1]):
            for mode in order:
                progress(f"curve: {mode} ...")
                _measure(mode, keys_dir, args.pages, args.connects, results)
    rows = []
    for kind, label in (("page", "GET /api/products/{id}, keep-alive"),
                        ("direct", "5 calls direct (RpcClient.gather)"),
                        ("connect", "first call on a new connection")):
        plain, curve = (Summary.of(results[(m, kind)]) for m in MODES)
        rows.append([label, str(plain.count), fmt_ms(plain.median_ms), fmt_ms(curve.median_ms),
                     fmt_ms(plain.p95_ms), fmt_ms(curve.p95_ms),
                     fmt_ratio(curve.median_ms, plain.median_ms)])
    text = "\n".join([
        "## CurveZMQ: what encryption costs", "",
        f"`.venv/bin/python -m bench.feature_costs.curve`: one client, {args.pages} pages and "
        f"{args.connects} new connections per mode and pass, two passes (plain, CURVE, "
        f"CURVE, plain) pooled; times in ms; load average at start {load} (a shared "
        f"2-core machine).", "",
        table(["what", "n", "plain median", "CURVE median", "plain p95", "CURVE p95",
               "CURVE / plain"], rows), ""])
    write_section(REPORT, "curve", text)
    print(text)


if __name__ == "__main__":
    main()
