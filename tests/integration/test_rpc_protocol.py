"""The RPC protocol on a real service process: plain REQ clients, DEALER fan-out, bad input."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from shared.contracts import Health, NoParams
from shared.contracts.product import GetProduct, Product
from shared.messaging import Call, RpcClient, new_context

from ..support import Platform, wait_for


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("rpc"), services=["product"], gateway=False)
    yield running
    running.close()


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def req_socket(ctx: zmq.Context, endpoint: str) -> zmq.Socket:
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.connect(endpoint)
    return sock


class TestPlainReqClient:
    def test_a_hello_world_req_client_can_call_product(self, product: Platform, ctx) -> None:
        sock = req_socket(ctx, product.endpoints["product"])
        sock.send(b'{"method": "get", "params": {"id": 1}}')
        reply = json.loads(sock.recv())
        assert reply["ok"] is True and reply["result"]["id"] == 1

    def test_errors_come_back_as_one_frame(self, product: Platform, ctx) -> None:
        sock = req_socket(ctx, product.endpoints["product"])
        for body, code in [(b"not json", "bad_request"), (b'{"method": "nope"}', "unknown_method"),
                           (b'{"method": "get", "params": {"id": "x"}}', "bad_params"),
                           (b'{"method": "get", "params": {"id": 77777}}', "not_found")]:
            sock.send(body)
            frames = sock.recv_multipart()
            assert len(frames) == 1 and json.loads(frames[0])["error"]["code"] == code


class TestGarbage:
    def test_garbage_frames_do_not_kill_the_service(self, product: Platform, ctx) -> None:
        raw = ctx.socket(zmq.DEALER)
        raw.setsockopt(zmq.LINGER, 0)
        raw.connect(product.endpoints["product"])
        for frames in ([b""], [b"\x00" * 10], [b"", b"", b"{"], [b"a", b"b", b"c", b"d"],
                       [b"", b"\xff" * 1000], [b"", b"[]"]):
            raw.send_multipart(frames)
        # Larger than MAXMSGSIZE: libzmq drops this peer's connection; the service lives on.
        big = ctx.socket(zmq.DEALER)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(product.endpoints["product"])
        big.send_multipart([b"", b"x" * (2 << 20)])
        sock = req_socket(ctx, product.endpoints["product"])
        sock.send(b'{"method": "health"}')
        assert json.loads(sock.recv())["result"]["service"] == "product"
        assert product.group.children["product"].running


class TestDealerClient:
    def test_replies_are_matched_by_id(self, product: Platform) -> None:
        context = new_context()
        client = RpcClient(context, product.endpoints)
        try:
            calls = [Call("product", "get", GetProduct(id=i), Product) for i in (5, 3, 9)]
            outcomes = client.gather(calls, 2000)
            assert [o.value.id for o in outcomes] == [5, 3, 9]
        finally:
            client.close()
            context.term()

    def test_a_client_stays_usable_after_a_timeout(self, tmp_path: Path) -> None:
        running = Platform(tmp_path, services=["product"], gateway=False)
        context = new_context()
        client = RpcClient(context, running.endpoints)
        health = Call("product", "health", NoParams(), Health)
        try:
            assert client.gather([health], 2000)[0].ok
            running.signal("product", signal.SIGSTOP)
            assert client.gather([health], 100)[0].error == "timeout"
            # Its circuit is open now: the next call is skipped at once, not after 2 s.
            start = time.monotonic()
            skipped = client.gather([health], 2000)[0]
            assert skipped.error == "unavailable" and time.monotonic() - start < 1.0
            running.signal("product", signal.SIGCONT)
            # A background probe closes the circuit; late replies to the first requests are
            # dropped and this one matches.
            again = wait_for(lambda: client.gather(
                [Call("product", "get", GetProduct(id=2), Product)], 2000)[0].value,
                timeout=5, what="the client to call product again")
            assert again.id == 2
        finally:
            client.close()
            context.term()
            running.close()


def test_a_bad_endpoint_leaves_no_socket_open_to_hang_the_context() -> None:
    """An unusable endpoint fails the call; the half-made socket must not stay open, or
    Context.term() waits for it forever (seen: `zeroshop status` hung)."""
    ctx = new_context()
    client = RpcClient(ctx, {"product": "not-an-endpoint"})
    try:
        client.gather([Call("product", "health", NoParams(), Health)], 100)
    except zmq.ZMQError:
        client.close()  # as the CLI does; the traceback still holds the failed call's frames
        left_open = [s for s in ctx._sockets if not s.closed]
    else:
        pytest.fail("a call to an invalid endpoint succeeded")
    assert left_open == []
    ctx.term()


def test_a_call_whose_replica_dies_fails_at_once_not_at_its_deadline(tmp_path: Path) -> None:
    """The request is on its way (the service is frozen, then killed): the dropped
    connection fails it as `unavailable` well before its 10 s deadline."""
    running = Platform(tmp_path, services=["product"], gateway=False)
    context = new_context()
    client = RpcClient(context, running.endpoints)
    health = Call("product", "health", NoParams(), Health)
    try:
        assert client.gather([health], 2000)[0].ok
        running.signal("product", signal.SIGSTOP)
        killer = threading.Timer(0.3, running.signal, ("product", signal.SIGKILL))
        killer.start()
        start = time.monotonic()
        outcome = client.gather([health], 10_000)[0]
        elapsed = time.monotonic() - start
        killer.join()
        assert outcome.error == "unavailable" and "dropped" in outcome.message, outcome
        assert elapsed < 5.0, elapsed
    finally:
        client.close()
        context.term()
        running.close()
