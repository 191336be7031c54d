"""Hostile ZeroMQ input: every service, behind its real socket, takes 1,000 generated
messages (garbage bytes, wrong frame counts, empty and oversized frames, JSON nested
thousands deep, wrong types, unknown methods) and keeps answering: after each one a health
call on the same connection must be answered, every reply must be a well-formed reply,
and at the end a real call of its contract succeeds. Then a DEALER that floods requests
and never reads its replies must not grow the service's memory without bound (the
high-water marks drop what does not fit) nor keep another client from being served.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.config import ALL_SERVICES
from shared.contracts import SERVICES
from shared.messaging.codec import decode_reply
from shared.messaging.sockets import HIGH_WATER_MARK, MAX_MESSAGE_BYTES

from ..support import Platform

EXAMPLES = 1000
ANSWER_S = 3.0  # a service that does not answer its health call in this long has broken
FLOOD_S = 2.0
# Once the queues are at their high-water marks, another round of flooding may add a little
# (allocator noise), never a share of what it sent (1 KiB a request would be ~20 MiB).
STEADY_GROWTH_LIMIT_KB = 4 * 1024

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


def deep(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + closer * depth


def requests_for(service: str) -> st.SearchStrategy[bytes]:
    """JSON requests that look almost right: real or unknown methods, params of the wrong
    shape or with the right field names and wrong types, odd ids, deadlines and traces."""
    methods = SERVICES[service].methods
    names = st.sampled_from(sorted(methods))
    fields = names.flatmap(lambda m: st.dictionaries(
        st.sampled_from([f.name for f in msgspec.structs.fields(methods[m].params)] + ["x"]),
        json_values, max_size=4))
    request = st.fixed_dictionaries(
        {"method": names | st.text(max_size=30) | json_values},
        optional={"params": fields | json_values, "id": json_values | st.text(max_size=10),
                  "deadline": st.floats(allow_nan=False, allow_infinity=False) | json_values,
                  "trace": json_values})
    return request.map(lambda r: json.dumps(r).encode())


def bodies_for(service: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),  # garbage
        st.just(b""),  # empty
        requests_for(service),  # wrong types, unknown methods
        st.integers(1_000, 60_000).map(deep),  # deep JSON: a RecursionError once
        st.integers(1_000, 30_000).map(lambda n: b'{"method": "health", "params": '
                                       + deep(n, b'{"a":', b"}") + b"}"),
        st.integers(1_000, 30_000).map(lambda n: b'{"method": ' + deep(n) + b"}"),
    )


def messages_for(service: str) -> st.SearchStrategy[list[bytes]]:
    """Multipart messages as a DEALER sends them: with or without the REQ delimiter, one
    to five frames, now and then one over the size limit."""
    frames = st.lists(bodies_for(service), min_size=1, max_size=5)
    oversized = st.just([b"", b"x" * (MAX_MESSAGE_BYTES + 1)])
    return st.one_of(frames, frames.map(lambda f: [b"", *f]), oversized)


class Connection:
    """A raw DEALER to one service; `health()` proves the service still answers."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self.ctx, self.endpoint = ctx, endpoint
        self.ids = count(1)
        self.sock = self._connect()

    def _connect(self) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        return sock

    def send(self, frames: list[bytes]) -> None:
        if any(len(f) > MAX_MESSAGE_BYTES for f in frames):
            # libzmq drops the connection of whoever sends one: use a throwaway socket.
            extra = self._connect()
            extra.send_multipart(frames)
            time.sleep(0.01)
            extra.close(linger=0)
            return
        self.sock.send_multipart(frames)

    def health(self) -> None:
        """Ask for health and read every reply until ours; each must be a real reply."""
        wanted = f"health-{next(self.ids)}"
        self.sock.send_multipart([b"", json.dumps({"method": "health", "id": wanted}).encode()])
        end = time.monotonic() + ANSWER_S
        while self.sock.poll(max(1, int((end - time.monotonic()) * 1000))):
            reply = decode_reply(self.sock.recv_multipart()[-1])  # raises if malformed
            if reply.id == wanted:
                assert reply.ok, reply
                return
        raise AssertionError(f"no health answer from {self.endpoint} in {ANSWER_S} s")

    def call(self, method: str, params: Any) -> dict[str, Any]:
        wanted = f"call-{next(self.ids)}"
        self.sock.send_multipart([b"", json.dumps(
            {"method": method, "params": params, "id": wanted}).encode()])
        while self.sock.poll(int(ANSWER_S * 1000)):
            reply: dict[str, Any] = json.loads(self.sock.recv_multipart()[-1])
            if reply.get("id") == wanted:
                return reply
        raise AssertionError(f"no answer to {method}")

    def close(self) -> None:
        self.sock.close(linger=0)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("hostile"), gateway=False)
    yield running
    running.close()


@pytest.fixture(scope="module")
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.term()


def _read_example(service: str) -> tuple[str, Any]:
    """A read method of the contract and its example params (reads have no side effects)."""
    for method in SERVICES[service].methods.values():
        if method.callers is None and method.name != "health":
            return method.name, msgspec.to_builtins(method.example)
    return "health", {}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("service", ALL_SERVICES)
def test_hostile_messages_leave_the_service_answering(
        platform: Platform, ctx: zmq.Context[zmq.Socket[bytes]], service: str) -> None:
    conn = Connection(ctx, platform.env[f"{service.upper()}_ENDPOINT"])
    sent = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(messages_for(service))
    def survives(frames: list[bytes]) -> None:
        conn.send(frames)
        sent.append(len(frames))
        conn.health()

    try:
        survives()
        assert len(sent) >= EXAMPLES
        method, params = _read_example(service)
        reply = conn.call(method, params)
        errors = SERVICES[service].methods[method].errors
        assert reply["ok"] or reply["error"]["code"] in errors, reply
        assert platform.group.children[service].running
    finally:
        conn.close()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def flood_for(sock: zmq.Socket[bytes], seconds: float) -> int:
    """Send health requests as fast as they go for `seconds`, never reading a reply."""
    request = json.dumps({"method": "health", "params": {}}).encode()
    sent, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sock.send_multipart([b"", request])
            sent += 1
        except zmq.Again:
            pass  # our queue and the server's are full: it reads no faster than it answers
    return sent


@pytest.mark.parametrize("service", ALL_SERVICES)
def test_a_dealer_that_never_reads_cannot_grow_the_service(
        platform: Platform, ctx: zmq.Context[zmq.Socket[bytes]], service: str) -> None:
    """Two rounds of flooding: the first fills every queue to its high-water mark, the second
    must then find nothing more to grow (unbounded queues would grow with every round)."""
    endpoint = platform.env[f"{service.upper()}_ENDPOINT"]
    other = Connection(ctx, endpoint)
    flood = ctx.socket(zmq.DEALER)
    flood.setsockopt(zmq.LINGER, 0)
    flood.setsockopt(zmq.SNDTIMEO, 100)
    pid = platform.pid(service)
    try:
        other.health()
        start = rss_kb(pid)
        flood.connect(endpoint)
        first = flood_for(flood, FLOOD_S)
        filled = rss_kb(pid)
        second = flood_for(flood, FLOOD_S)
        other.health()  # another client is still served while the flood's replies pile up
        after = rss_kb(pid)
        print(f"{service}: RSS {start} KiB; +{filled - start} KiB after {first} unread "
              f"requests, then +{after - filled} KiB after {second} more")
        assert first > 2 * HIGH_WATER_MARK and second > 0, "the flood did not fill both queues"
        assert after - filled < STEADY_GROWTH_LIMIT_KB, (
            f"{service} kept growing: +{after - filled} KiB in the second round")
    finally:
        flood.close(linger=0)
        other.close()
