"""The gateway's HTTP edge under many clients: hundreds of open event streams, hundreds of
half-open connections, caps and timeouts. Real processes, raw TCP sockets on loopback.

Connections come from several loopback addresses (127.0.0.2, .3, ...) like several
clients, so that none of them meets the per-client cap unless a test means it to.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.config import ALL_SERVICES

from ..support import Platform, wait_for

STREAMS = 300
HALF_OPEN = 300
PER_ADDRESS = 50  # connections per client address: well under the default cap of 100
ORDER = {"customer": {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"},
         "items": [{"product_id": 3, "quantity": 1}]}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("edge"))
    yield running
    running.close()


def client_address(index: int) -> str:
    return f"127.0.0.{2 + index // PER_ADDRESS}"


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def open_stream(url: str, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """GET /api/events (no history) from `source`; returns once the stream has begun."""
    host, port = address_of(url)
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    writer.write(f"GET /api/events?history=0 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    await reader.readuntil(b": zeroshop event stream")
    return reader, writer


def timed_get(url: str, path: str) -> tuple[int, float]:
    start = time.perf_counter()
    with urllib.request.urlopen(url + path, timeout=10) as response:
        response.read()
        return response.status, time.perf_counter() - start


def raw_answer(url: str, request: bytes, source: str = "127.0.0.1", timeout: float = 10.0
               ) -> tuple[bytes, float]:
    """Send `request` (maybe incomplete), read until the server closes: (answer, seconds)."""
    with socket.create_connection(address_of(url), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        start = time.monotonic()
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks), time.monotonic() - start


def _served(url: str) -> tuple[int, float] | None:
    try:
        return timed_get(url, "/healthz")
    except OSError:  # refused while the closed connection is still counted
        return None


class TestManyEventStreams:
    def test_hundreds_of_open_streams_each_get_the_event(self, shop: Platform) -> None:
        async def scenario() -> list[float]:
            streams = await asyncio.gather(*(open_stream(shop.url, client_address(i))
                                             for i in range(STREAMS)))
            try:
                placed_at = time.monotonic()
                status, body, _ = await asyncio.to_thread(shop.post, "/api/orders", ORDER)
                assert status == 201, body

                async def until_placed(reader: asyncio.StreamReader) -> float:
                    while True:
                        line = await reader.readline()
                        assert line, "the stream ended"
                        if not line.startswith(b"data: "):
                            continue
                        event = json.loads(line[6:])
                        if event["topic"] == "order.placed" and \
                                event["payload"]["order_id"] == body["order_id"]:
                            return time.monotonic() - placed_at

                # Meanwhile the product pages still answer within their deadline.
                page = asyncio.to_thread(timed_get, shop.url, "/api/products/1")
                delays = await asyncio.wait_for(
                    asyncio.gather(*(until_placed(r) for r, _ in streams)), 30)
                status, _seconds = await page
                assert status == 200
                return list(delays)
            finally:
                for _, writer in streams:
                    writer.close()

        delays = asyncio.run(scenario())
        assert len(delays) == STREAMS  # every stream got the order's event
        # Streams closed by their clients leave the hub.
        wait_for(lambda: timed_get(shop.url, "/healthz")[0] == 200, what="healthz")

    def test_a_stream_over_the_limit_is_a_429_with_retry_after(
            self, shop: Platform, tmp_path: Path) -> None:
        url = shop.group.start("gateway-2-streams", "gateway",
                               {**shop.env, "GATEWAY_MAX_EVENT_STREAMS": "2"}).endpoint
        try:
            async def scenario() -> bytes:
                held = [await open_stream(url, "127.0.0.1") for _ in range(2)]
                try:
                    answer, _ = await asyncio.to_thread(
                        raw_answer, url, b"GET /api/events HTTP/1.1\r\nHost: x\r\n"
                                         b"Connection: close\r\n\r\n")
                    return answer
                finally:
                    for _, writer in held:
                        writer.close()

            answer = asyncio.run(scenario())
            head, body = answer.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 429"), head
            assert b"retry-after: 5" in head.lower()
            assert json.loads(body)["error"]["code"] == "too_many_streams"
        finally:
            shop.group.stop("gateway-2-streams")


class TestSlowAndIdleConnections:
    def test_hundreds_of_half_open_connections_do_not_stop_other_clients(
            self, shop: Platform) -> None:
        held = []
        try:
            for i in range(HALF_OPEN):  # half a request head each, then silence
                sock = socket.create_connection(address_of(shop.url), timeout=10,
                                                source_address=(client_address(i), 0))
                sock.sendall(b"GET /api/products/1 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                held.append(sock)
            for path in ("/healthz", "/api/products/2", "/api/products?q=atlas"):
                status, seconds = timed_get(shop.url, path)
                assert status == 200 and seconds < 2.0, (path, seconds)
        finally:
            for sock in held:
                sock.close()

    def test_a_request_that_never_finishes_is_answered_408_and_closed(
            self, shop: Platform) -> None:
        url = shop.group.start("gateway-timeout", "gateway",
                               {**shop.env, "GATEWAY_REQUEST_TIMEOUT_S": "1",
                                "GATEWAY_IDLE_TIMEOUT_S": "1"}).endpoint
        try:
            half, seconds = raw_answer(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            assert half.startswith(b"HTTP/1.1 408") and 0.5 < seconds < 5, (half, seconds)
            silent, seconds = raw_answer(url, b"")
            assert silent.startswith(b"HTTP/1.1 408") and seconds < 5, silent
            assert b'"request_timeout"' in silent
            # A keep-alive connection: one whole answer, then closed once idle.
            idle, seconds = raw_answer(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert idle.startswith(b"HTTP/1.1 200") and idle.endswith(b'{"status":"ok"}')
            assert 0.5 < seconds < 5, seconds
        finally:
            shop.group.stop("gateway-timeout")

    def test_connections_per_client_are_capped_and_others_still_served(
            self, shop: Platform) -> None:
        url = shop.group.start("gateway-cap", "gateway",
                               {**shop.env, "GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "5"}).endpoint
        held = []
        try:
            for _ in range(5):
                held.append(socket.create_connection(address_of(url), timeout=10,
                                                     source_address=("127.0.0.9", 0)))
            answer, _ = raw_answer(url, b"", source="127.0.0.9")
            head, body = answer.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 429") and b"retry-after" in head.lower()
            assert json.loads(body)["error"]["code"] == "too_many_connections"
            status, _ = timed_get(url, "/healthz")  # another client: 127.0.0.1
            assert status == 200
        finally:
            for sock in held:
                sock.close()
            shop.group.stop("gateway-cap")

    def test_connections_over_the_total_are_refused_with_a_503(self, shop: Platform) -> None:
        url = shop.group.start("gateway-total", "gateway",
                               {**shop.env, "GATEWAY_MAX_CONNECTIONS": "16"}).endpoint
        held = []
        try:
            for i in range(16):  # from 16 client addresses: no client is over its own cap
                held.append(socket.create_connection(address_of(url), timeout=10,
                                                     source_address=(f"127.0.1.{i + 1}", 0)))
            answer, _ = raw_answer(url, b"", source="127.0.1.100")
            head, body = answer.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 503") and b"retry-after" in head.lower()
            assert json.loads(body)["error"]["code"] == "too_many_connections"
            held.pop().close()
            status, _ = wait_for(lambda: _served(url), what="a free connection")
            assert status == 200
        finally:
            for sock in held:
                sock.close()
            shop.group.stop("gateway-total")

    def test_a_body_over_the_limit_is_refused_before_it_is_read(self, shop: Platform) -> None:
        answer, seconds = raw_answer(
            shop.url, b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: 10000000\r\n\r\n{")
        head, body = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 413") and seconds < 5, head
        assert json.loads(body)["error"]["code"] == "payload_too_large"


class TestEventHub:
    def test_a_publisher_away_at_start_is_followed_once_it_answers(
            self, tmp_path: Path) -> None:
        # sms is down when the first stream opens; its events still reach the stream later.
        shop = Platform(tmp_path, services=[s for s in ALL_SERVICES if s != "sms"])
        try:
            async def scenario() -> set[str]:
                reader, writer = await open_stream(shop.url, "127.0.0.1")
                try:
                    status, body, _ = await asyncio.to_thread(shop.post, "/api/orders", ORDER)
                    assert status == 201, body
                    await asyncio.to_thread(shop.start, "sms")
                    seen: set[str] = set()
                    while "sms" not in seen:
                        line = await asyncio.wait_for(reader.readline(), 30)
                        assert line, "the stream ended"
                        if line.startswith(b"data: "):
                            event = json.loads(line[6:])
                            if event["payload"].get("order_id") == body["order_id"]:
                                seen.add(event["publisher"])
                    return seen
                finally:
                    writer.close()

            assert asyncio.run(scenario()) >= {"orders", "inventory", "email", "sms"}
        finally:
            shop.close()

    def test_a_bad_stream_query_is_a_json_400_naming_the_field(self, shop: Platform) -> None:
        for query, field in (("history=-1", "history"), ("follow=maybe", "follow"),
                             ("nonsense=1", "nonsense")):
            status, body = shop.get(f"/api/events?{query}")
            assert status == 400, query
            assert body["error"]["code"] == "bad_request" and field in body["error"]["message"]

    def test_a_stop_ends_every_open_stream_and_exits_0(self, shop: Platform) -> None:
        url = shop.group.start("gateway-stopping", "gateway", shop.env).endpoint

        async def scenario() -> list[bytes]:
            streams = [await open_stream(url, "127.0.0.1") for _ in range(3)]
            code = await asyncio.to_thread(shop.group.stop, "gateway-stopping")
            assert code == 0
            # Each stream ends properly: the last chunk of a chunked answer, then EOF.
            return [await asyncio.wait_for(reader.read(), 10) for reader, _ in streams]

        for rest in asyncio.run(scenario()):
            assert rest.endswith(b"0\r\n\r\n"), rest
