"""The gateway's HTTP server: uvicorn (today) against waitress (before), in the same run.

    .venv/bin/python -m bench.s1_page.servers            # about three minutes
    .venv/bin/python -m bench.s1_page.servers --quick --output /tmp/b.md

Every service, the uvicorn gateway (`python -m gateway`) and the waitress gateway
(bench/peers/waitress_gateway.py, the same Flask app) run at once against the same services, so
the two servers are measured in interleaved rounds, the order flipped each round:

1. product pages and /healthz, one keep-alive client: medians, and uvicorn / waitress;
2. the same pages while K half-open connections (half a request head, then silence) are
   held from other client addresses: how many pages answer, and how fast;
3. uvicorn only (waitress allowed 4 streams, each holding one of its 8 threads): S open
   /api/events streams while orders are placed: how long each event takes to reach every
   stream, how many arrive, and the pages' latency meanwhile.

Connections come from 127.0.0.2 upwards, 50 per address (under the per-client cap).
Rewrites only its own section of docs/BENCHMARKS.md. Nothing asserts on speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.catalog_seed import PRODUCT_COUNT
from tests.support import Platform

from ..common import (
    REPORT,
    HttpSession,
    OtherLoad,
    Summary,
    facts_at_end,
    fill_defaults,
    fmt_ms,
    fmt_ratio,
    machine_facts,
    progress,
    table,
    write_section,
)

SERVERS = ("waitress", "uvicorn")
PER_ADDRESS = 50
DEFAULTS = {"rounds": 8, "requests": 100, "half_open": [100, 2000], "streams": [500, 1000],
            "orders": 5}
QUICK = {"rounds": 2, "requests": 20, "half_open": [200], "streams": [100], "orders": 2}
ORDER = {"customer": {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"},
         "items": [{"product_id": 3, "quantity": 1}]}
EVENTS_PER_ORDER = 5  # placed, reserved, confirmed, email sent, SMS sent
PAGE_TIMEOUT_S = 2.0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.s1_page.servers", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help="interleaved rounds of pages (8)")
    parser.add_argument("--requests", type=int, help="pages per server and round (100)")
    parser.add_argument("--half-open", type=int, nargs="+", help="K to hold (100 2000)")
    parser.add_argument("--streams", type=int, nargs="+", help="S to hold (500 1000)")
    parser.add_argument("--orders", type=int, help="orders placed per S (5)")
    parser.add_argument("--quick", action="store_true", help="small numbers, a smoke run")
    parser.add_argument("--output", type=Path, default=REPORT, help="docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    fill_defaults(args, DEFAULTS, QUICK)
    return args


def source(index: int) -> str:
    return f"127.0.0.{2 + index // PER_ADDRESS}"


def pages(url: str, count: int, seed: int) -> tuple[list[float], int]:
    """`count` product pages on one keep-alive connection: (seconds of each answer, failures)."""
    session = HttpSession(url, timeout=PAGE_TIMEOUT_S)
    seconds, failed = [], 0
    try:
        for i in range(count):
            start = time.perf_counter()
            ok = session.page_ok(1 + (seed * 7919 + i * 31) % PRODUCT_COUNT)
            if ok:
                seconds.append(time.perf_counter() - start)
            failed += not ok
    finally:
        session.close()
    return seconds, failed


def _every_page(url: str) -> None:
    session = HttpSession(url)
    for product_id in range(1, PRODUCT_COUNT + 1):
        session.page_ok(product_id)
    session.close()


def plain_pages(urls: dict[str, str], rounds: int, requests: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {s: [] for s in SERVERS}
    health: dict[str, list[float]] = {s: [] for s in SERVERS}
    ratios = []
    for number in range(rounds):
        medians = {}
        for server in SERVERS if number % 2 == 0 else SERVERS[::-1]:
            seconds, _ = pages(urls[server], requests, number)
            samples[server] += seconds
            medians[server] = statistics.median(seconds)
            session = HttpSession(urls[server])
            for _ in range(requests // 2):
                start = time.perf_counter()
                session.get("/healthz")
                health[server].append(time.perf_counter() - start)
            session.close()
        ratios.append(medians["uvicorn"] / medians["waitress"])
    return {"pages": {s: Summary.of(v) for s, v in samples.items()},
            "healthz": {s: Summary.of(v) for s, v in health.items()},
            "round_ratio": statistics.median(ratios)}


async def _half_open(url: str, count: int) -> list[asyncio.StreamWriter]:
    host, port = urlsplit(url).hostname, urlsplit(url).port

    async def one(i: int) -> asyncio.StreamWriter | None:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=(source(i), 0)), 2)
        except (OSError, TimeoutError):
            return None
        writer.write(b"GET /api/products/1 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        return writer

    return [w for w in await asyncio.gather(*(one(i) for i in range(count))) if w]


def under_half_open(urls: dict[str, str], sizes: list[int], requests: int) -> list[list[str]]:
    rows = []
    for number, size in enumerate(sizes):
        for server in SERVERS if number % 2 == 0 else SERVERS[::-1]:
            progress(f"s1 servers: {size} half-open connections to {server}")

            async def scenario(server: str = server, size: int = size
                               ) -> tuple[int, list[float], int]:
                held = await _half_open(urls[server], size)
                try:
                    seconds, failed = await asyncio.to_thread(pages, urls[server], requests, 1)
                    return len(held), seconds, failed
                finally:
                    for writer in held:
                        writer.close()

            opened, seconds, failed = asyncio.run(scenario())
            s = Summary.of(seconds)
            rows.append([str(size), server, str(opened), f"{requests - failed}/{requests}",
                         fmt_ms(s.median_ms), fmt_ms(s.p95_ms)])
            time.sleep(1)  # let the closed connections go before the next server's turn
    return rows


async def _streams(shop: Platform, count: int, orders: int, requests: int) -> dict[str, Any]:
    parts = urlsplit(shop.url)
    arrived: list[tuple[int, float]] = []  # (order id, seconds since the event occurred)
    wanted: set[int] = set()  # the orders placed here (an event may beat the POST's answer)

    async def follow(reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                arrived.append((event["payload"].get("order_id"),
                                time.time() - _epoch(event["occurred_at"])))

    async def open_one(i: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port,
                                                       local_addr=(source(i), 0))
        writer.write(b"GET /api/events?history=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b": zeroshop event stream")
        return reader, writer

    before, _ = await asyncio.to_thread(pages, shop.url, requests, 2)
    streams = await asyncio.gather(*(open_one(i) for i in range(count)))
    tasks = [asyncio.create_task(follow(r)) for r, _ in streams]
    refused = await asyncio.to_thread(_one_more_stream, shop.url)
    seconds, failed = await asyncio.to_thread(pages, shop.url, requests, 2)
    for _ in range(orders):
        status, body, _ = await asyncio.to_thread(shop.post, "/api/orders", ORDER)
        wanted.add(body["order_id"])
        await asyncio.sleep(0.5)
    expected = count * orders * EVENTS_PER_ORDER
    end = time.monotonic() + 10
    while time.monotonic() < end and sum(o in wanted for o, _ in arrived) < expected:
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    for _, writer in streams:
        writer.close()
    delays = [seconds for order, seconds in arrived if order in wanted]
    return {"delays": delays, "got": len(delays), "expected": expected,
            "pages": Summary.of(seconds), "failed": failed, "refused": refused,
            "pages_before": Summary.of(before)}


def _one_more_stream(url: str) -> str:
    """What one more stream gets (429 when the open ones are at the limit)."""
    session = HttpSession(url)
    status, _ = session.get("/api/events?follow=false&history=0")
    session.close()
    return str(status)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def run(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    shop = Platform(data, GATEWAY_MAX_EVENT_STREAMS=str(max(args.streams)))
    try:
        waitress = shop.group.start("waitress", "bench.peers.waitress_gateway", shop.env).endpoint
        urls = {"uvicorn": shop.url, "waitress": waitress}
        for url in urls.values():
            pages(url, 20, 0)  # warm both up
        _every_page(shop.url)  # the services' reply caches hold every page: same for both
        progress(f"s1 servers: 1/3 pages, {args.rounds} interleaved rounds")
        plain = plain_pages(urls, args.rounds, args.requests)
        progress("s1 servers: 2/3 pages beside half-open connections")
        half_open = under_half_open(urls, args.half_open, 20)
        streams = {}
        for count in args.streams:
            progress(f"s1 servers: 3/3 {count} open event streams, {args.orders} orders")
            streams[count] = asyncio.run(_streams(shop, count, args.orders, 50))
        return {"plain": plain, "half_open": half_open, "streams": streams}
    finally:
        shop.close()


def render(result: dict[str, Any], command: str, facts: list[tuple[str, str]]) -> str:
    plain = result["plain"]
    page_rows = [[what, fmt_ms(plain[key]["waitress"].median_ms),
                  fmt_ms(plain[key]["uvicorn"].median_ms),
                  fmt_ms(plain[key]["waitress"].p95_ms), fmt_ms(plain[key]["uvicorn"].p95_ms),
                  fmt_ratio(plain[key]["uvicorn"].median_ms, plain[key]["waitress"].median_ms)]
                 for what, key in (("GET /api/products/{id}", "pages"),
                                   ("GET /healthz", "healthz"))]
    stream_rows = []
    for count, s in result["streams"].items():
        d = Summary.of(s["delays"])
        late = sum(1 for x in s["delays"] if x > 1.0)
        stream_rows.append([str(count), f"{s['got']}/{s['expected']}", fmt_ms(d.median_ms),
                            fmt_ms(d.p95_ms), fmt_ms(max(s["delays"], default=0) * 1000),
                            str(late), fmt_ms(s["pages_before"].median_ms),
                            fmt_ms(s["pages"].median_ms), str(s["failed"]), s["refused"]])
    return "\n\n".join([
        "## S1, the gateway's HTTP server: uvicorn against waitress (bench/s1_page/servers.py)",
        f"Reproduce: `{command}`. Every service, the uvicorn gateway and the waitress gateway "
        "(bench/peers/waitress_gateway.py: the same Flask app under waitress, 8 threads, as "
        "before) "
        "run at once, SQLite in a temporary folder; rounds interleave the two servers.",
        "### Machine",
        table(["fact", "value"], [[k, v] for k, v in facts]),
        "### 1. Pages, one keep-alive client",
        "Random product pages after every page was asked once, so the services answer "
        "from their reply caches for both servers alike (a cold cache would favour the "
        "server measured second).",
        table(["request", "waitress median ms", "uvicorn median ms", "waitress p95 ms",
               "uvicorn p95 ms", "uvicorn / waitress"], page_rows),
        f"Median of the per-round ratios (pages): {plain['round_ratio']:.2f}x.",
        "### 2. Pages while half-open connections are held",
        f"K connections from other addresses each send half a request head and stay silent; "
        f"then 20 pages from 127.0.0.1, each given {PAGE_TIMEOUT_S:g} s. waitress serves at "
        "most 100 connections (its default `connection_limit`); uvicorn drops a request "
        "that has not arrived within GATEWAY_REQUEST_TIMEOUT_S (10 s).",
        table(["K", "server", "connections opened", "pages answered", "median ms", "p95 ms"],
              result["half_open"]),
        "### 3. Open event streams (uvicorn)",
        "S streams (`GET /api/events?history=0`) held open, then one order every 0.5 s: each "
        "event's delay is from its `occurred_at` (the publisher's commit) to its arrival at "
        "a stream, over every stream; the same 50 pages measured just before the streams "
        "open and while they are open (before the orders). The last "
        "column is what one more stream got at that moment (GATEWAY_MAX_EVENT_STREAMS is "
        "the largest S: 429 means refused). waitress is absent: it held one thread per "
        "stream, 4 streams at most.",
        table(["S", "events arrived", "median ms", "p95 ms", "max ms", "over 1 s",
               "page median ms, no stream open", "page median ms, S open", "pages failed",
               "one more stream"], stream_rows),
    ]) + "\n"


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    args = _parse(raw)
    facts = machine_facts()
    others = OtherLoad()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zeroshop-bench-http-") as data:
        result = run(args, Path(data))
    facts += facts_at_end(others, time.monotonic() - started)
    command = " ".join([".venv/bin/python -m bench.s1_page.servers", *raw])
    write_section(args.output, "s1-servers", render(result, command, facts))
    progress(f"done: wrote the s1-servers section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
