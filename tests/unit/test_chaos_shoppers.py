"""The chaos soak's buyers against a real loopback HTTP server that misbehaves: a gateway
killed mid-answer (a truncated answer is no answer, so the buyer asks again with the same
Idempotency-Key, as any client must) and an answer no client expects (reported as a
surprise, not a buyer thread silently gone with its order uncounted)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from shared.chaos.load import Shoppers

ACCEPTED = json.dumps({"order_id": 7, "status": "pending"}).encode()
Answer = Callable[[int], bytes]  # the n-th request (from 1) -> the bytes sent back


def _created(body: bytes, cut_at: int | None = None) -> bytes:
    head = (b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
    return head + (body if cut_at is None else body[:cut_at])


@pytest.fixture
def server() -> Iterator[Callable[[Answer], tuple[str, list[str]]]]:
    """`server(answer)`: a loopback HTTP server answering each request with `answer(n)` and
    closing the connection; returns its URL and the Idempotency-Keys it was sent."""
    listeners: list[tuple[socket.socket, threading.Thread]] = []

    def start(answer: Answer) -> tuple[str, list[str]]:
        listener = socket.create_server(("127.0.0.1", 0))
        keys: list[str] = []

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(65536)
                    head, _, body = request.partition(b"\r\n\r\n")
                    fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
                    while len(body) < int(fields.get("Content-Length", "0")):
                        body += conn.recv(65536)
                    keys.append(fields.get("Idempotency-Key", ""))
                    conn.sendall(answer(len(keys)))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        listeners.append((listener, thread))
        return f"http://127.0.0.1:{listener.getsockname()[1]}", keys

    yield start
    for listener, thread in listeners:
        listener.shutdown(socket.SHUT_RDWR)  # wakes its accept()
        listener.close()
        thread.join(5)


def test_an_answer_cut_short_is_asked_again_with_the_same_key(
        server: Callable[[Answer], tuple[str, list[str]]]) -> None:
    url, keys = server(lambda n: _created(ACCEPTED, cut_at=5 if n == 1 else None))
    shoppers = Shoppers(url, browsers=0, buyers=0, seed=1, run_id="test")
    shoppers._place("chaos-test-0-1", {"customer": {}, "items": []})
    assert keys == ["chaos-test-0-1", "chaos-test-0-1"]  # the same key, twice
    assert shoppers.tally.accepted == {"chaos-test-0-1": 7}
    assert shoppers.tally.unreachable == 1 and shoppers.tally.surprises == []


def test_a_buyer_that_dies_is_a_surprise_the_verdicts_show(
        server: Callable[[Answer], tuple[str, list[str]]]) -> None:
    url, keys = server(lambda n: _created(b"not json"))
    shoppers = Shoppers(url, browsers=0, buyers=0, seed=1, run_id="test")
    shoppers._guarded(shoppers._buy, 1, 0)  # returns: the buyer died on its first answer
    assert len(keys) == 1
    assert [s.split(":")[0] for s in shoppers.tally.surprises] == [
        f"{threading.current_thread().name} stopped"]
    assert "JSONDecodeError" in shoppers.tally.surprises[0]
