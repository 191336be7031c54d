"""CurveZMQ on: the whole platform works with keys from `zeroshop keys generate`, and
nothing else gets in: no key, a random key, plaintext, a key removed from the folder (after
the documented restart); a read-only key may read but not place orders. Real processes,
real sockets on loopback; a refused client gets no reply, so we wait with a deadline."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from shared.messaging import (
    CurveError,
    Keyring,
    Publisher,
    RpcServer,
    new_context,
    start_authenticator,
)

from ..support import Platform, base_env, wait_for
from .test_cli import RunningUp

ADA = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
REFUSED_WAIT_MS = 1500  # a refused client hears nothing; this long is "nothing"


def zeroshop(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def generate(folder: Path) -> Path:
    done = zeroshop("keys", "generate", str(folder))
    assert done.returncode == 0, done.stderr
    return folder


def ask(endpoint: str, message: dict[str, Any], keys: tuple[bytes, bytes] | None = None,
        server_key: bytes | None = None) -> dict[str, Any] | None:
    """One request from a plain zmq.REQ (with a CURVE keypair if given); None if no reply."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        sock.setsockopt(zmq.CURVE_PUBLICKEY, keys[0])
        sock.setsockopt(zmq.CURVE_SECRETKEY, keys[1])
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_key or b"")
    try:
        sock.connect(endpoint)
        sock.send(json.dumps(message).encode())
        if not sock.poll(REFUSED_WAIT_MS):
            return None
        reply: dict[str, Any] = json.loads(sock.recv())
        return reply
    finally:
        sock.close(linger=0)
        ctx.term()


def key_of(folder: Path, name: str) -> tuple[bytes, bytes]:
    keys = Keyring.load(folder, name)
    return keys.public, keys.secret


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("curve") / "keys")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("shop"), ZEROSHOP_CURVE_KEYS=str(keys))
    yield running
    running.close()


class TestKeys:
    def test_generate_writes_a_pair_per_process_and_secrets_only_the_owner_reads(
            self, keys: Path) -> None:
        names = {p.name for p in keys.iterdir()}
        for name in ("orders", "inventory", "gateway", "cli"):
            assert {f"{name}.key", f"{name}.key_secret"} <= names
            assert (keys / f"{name}.key_secret").stat().st_mode & 0o777 == 0o600
            assert b"secret-key" not in (keys / f"{name}.key").read_bytes()

    def test_generate_refuses_to_overwrite_without_force(self, tmp_path: Path) -> None:
        folder = generate(tmp_path / "k")
        before = (folder / "orders.key").read_bytes()
        refused = zeroshop("keys", "generate", str(folder))
        assert refused.returncode != 0 and "--force" in refused.stderr
        assert (folder / "orders.key").read_bytes() == before
        assert zeroshop("keys", "generate", str(folder), "--force").returncode == 0
        assert (folder / "orders.key").read_bytes() != before

    def test_an_init_job_generates_once(self, tmp_path: Path) -> None:
        folder = tmp_path / "k"
        assert zeroshop("keys", "generate", str(folder), "--if-missing").returncode == 0
        before = (folder / "gateway.key_secret").read_bytes()
        again = zeroshop("keys", "generate", str(folder), "--if-missing")
        assert again.returncode == 0 and "nothing written" in again.stdout
        assert (folder / "gateway.key_secret").read_bytes() == before


class TestThePlatformWorksWithCurve:
    def test_the_product_page_and_readiness(self, shop: Platform) -> None:
        status, page = shop.get("/api/products/1")
        assert status == 200 and page["degraded"] == [], page
        assert shop.get("/readyz")[0] == 200

    def test_an_order_is_confirmed_and_notified_and_zeroshop_events_shows_it(
            self, shop: Platform) -> None:
        status, created, _ = shop.post("/api/orders", {
            "customer": ADA, "items": [{"product_id": 1, "quantity": 1}]})
        assert status == 201, created

        def settled() -> dict[str, Any] | None:
            order = shop.get(created["url"])[1]
            return order if len(order["timeline"]) >= 5 else None
        order = wait_for(settled, timeout=15, what="the order to be confirmed and notified")
        assert order["status"] == "confirmed"
        assert shop.call("orders", "get_order", {"order_id": created["order_id"]})[
            "status"] == "confirmed"  # the CLI's key reads too
        events = zeroshop("events", "--url", shop.url, "--history", "20", "--json")
        assert events.returncode == 0, events.stderr
        topics = [json.loads(line)["topic"] for line in events.stdout.splitlines()]
        assert {"order.placed", "stock.reserved", "order.confirmed",
                "notification.sent"} <= set(topics)

    def test_the_cli_calls_with_its_own_key(self, shop: Platform, keys: Path) -> None:
        env = {"ZEROSHOP_CURVE_KEYS": str(keys),
               "ORDERS_ENDPOINT": shop.env["ORDERS_ENDPOINT"]}
        done = zeroshop("call", "orders", "list_orders", "{}", env=env)
        assert done.returncode == 0 and '"total"' in done.stdout, done.stderr
        plain = zeroshop("call", "orders", "list_orders", "{}", "--timeout-ms", "500",
                         env={"ZEROSHOP_CURVE_KEYS": "", **{k: v for k, v in env.items()
                                                           if k != "ZEROSHOP_CURVE_KEYS"}})
        assert plain.returncode != 0  # without a key, no answer


# The order that was confirmed when anyone could call orders: 3 books of $41.99 at 1 cent.
ONE_CENT_LINE = {"product_id": 3, "name": "Example", "quantity": 3, "unit_price": 4199,
                 "final_unit_price": 1}
PLACE_AT_ONE_CENT = {"method": "place_order", "params": {
    "customer": ADA, "lines": [ONE_CENT_LINE], "currency": "USD"}}


def test_zeroshop_up_runs_everything_with_curve_and_says_so(tmp_path: Path, keys: Path) -> None:
    up = RunningUp(base_env(tmp_path, ZEROSHOP_CURVE_KEYS=str(keys)))
    try:
        output = up.read_until("ZeroShop is up")
        assert f"security: CURVE on every socket, only the keys in {keys} admitted" in output
        url = up.table()["gateway"][0]
        with urllib.request.urlopen(f"{url}/api/products/1", timeout=5) as resp:
            assert json.loads(resp.read())["degraded"] == []
        status = up.status()
        assert status.returncode == 0, status.stdout + status.stderr  # the CLI's key
    finally:
        up.process.send_signal(signal.SIGTERM)
        up.process.wait(timeout=30)


class TestNobodyElseGetsIn:
    LIST = {"method": "list_orders", "params": {}}

    def test_plaintext_gets_no_reply(self, shop: Platform) -> None:
        assert ask(shop.env["ORDERS_ENDPOINT"], PLACE_AT_ONE_CENT) is None
        assert ask(shop.env["ORDERS_ENDPOINT"], self.LIST) is None

    def test_a_random_key_gets_no_reply(self, shop: Platform, keys: Path) -> None:
        stranger = zmq.curve_keypair()
        server = Keyring.load(keys, "cli").server_key("orders")
        assert ask(shop.env["ORDERS_ENDPOINT"], self.LIST, stranger, server) is None
        # The same request with an admitted key is answered: the refusal was the key.
        assert ask(shop.env["ORDERS_ENDPOINT"], self.LIST, key_of(keys, "cli"), server)

    def test_a_read_only_key_may_read_but_not_place_an_order(
            self, shop: Platform, keys: Path) -> None:
        reader = key_of(keys, "recommendation")  # admitted, not on place_order's list
        server = Keyring.load(keys, "cli").server_key("orders")
        refused = ask(shop.env["ORDERS_ENDPOINT"], PLACE_AT_ONE_CENT, reader, server)
        assert refused is not None and refused["error"]["code"] == "forbidden", refused
        assert "gateway, cli" in refused["error"]["message"]
        assert ask(shop.env["ORDERS_ENDPOINT"], self.LIST, reader, server)["ok"]  # type: ignore[index]

    def test_events_need_a_key_too(self, shop: Platform) -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        try:
            sub.connect(shop.env["ORDERS_EVENTS_ENDPOINT"])  # heartbeats every 200 ms
            assert not sub.poll(REFUSED_WAIT_MS)
        finally:
            sub.close(linger=0)
            ctx.term()


def test_a_key_removed_from_the_folder_is_refused_after_a_reload(tmp_path: Path) -> None:
    folder = generate(tmp_path / "keys")
    pricing = Platform(tmp_path / "data", services=["pricing"], gateway=False,
                       ZEROSHOP_CURVE_KEYS=str(folder))
    try:
        endpoint = pricing.env["PRICING_ENDPOINT"]
        server = Keyring.load(folder, "cli").server_key("pricing")
        ask_price = {"method": "get_price", "params": {"product_id": 1}}
        assert ask(endpoint, ask_price, key_of(folder, "cli"), server)
        removed = key_of(folder, "cli")
        (folder / "cli.key").unlink()
        (folder / "cli.key_secret").unlink()
        assert ask(endpoint, ask_price, removed, server)  # loaded at start: still admitted
        pricing.signal("pricing", signal.SIGHUP)  # the documented reload
        wait_for(lambda: ask(endpoint, ask_price, removed, server) is None, timeout=15,
                 what="the removed key to be refused")
        assert ask(endpoint, ask_price, key_of(folder, "gateway"), server)
        pricing.stop("pricing", signal.SIGTERM)
        pricing.start("pricing")  # and a restart reads the folder as it is now
        assert ask(endpoint, ask_price, removed, server) is None
    finally:
        pricing.close()


class TestServersRefuseToRunOpen:
    def test_a_curve_server_without_its_authenticator_does_not_start(self, keys: Path) -> None:
        ctx = new_context(Keyring.load(keys, "pricing"))
        try:
            with pytest.raises(CurveError, match="no ZAP authenticator"):
                RpcServer(ctx, "tcp://127.0.0.1:*")
            with pytest.raises(CurveError, match="no ZAP authenticator"):
                Publisher(ctx, "tcp://127.0.0.1:*")
        finally:
            ctx.term()

    def test_a_server_whose_authenticator_stops_stops_serving(self, keys: Path) -> None:
        ctx = new_context(Keyring.load(keys, "pricing"))
        authenticator = start_authenticator(ctx)
        server = RpcServer(ctx, "tcp://127.0.0.1:*")
        failure: list[BaseException] = []
        stop = threading.Event()

        def serve() -> None:
            try:
                server.serve(lambda body, caller: None, stop.is_set, poll_ms=20)
            except CurveError as exc:
                failure.append(exc)
        thread = threading.Thread(target=serve)
        thread.start()
        try:
            authenticator.stop()
            thread.join(timeout=5)
            assert failure, "it went on serving without ZAP"
            assert "ZAP authenticator stopped" in str(failure[0])
        finally:
            stop.set()
            thread.join()
            server.close()
            ctx.term()

    def test_a_refused_peer_is_logged_once(self, keys: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
        ctx = new_context(Keyring.load(keys, "pricing"))
        authenticator = start_authenticator(ctx)
        server = RpcServer(ctx, "tcp://127.0.0.1:*")
        try:
            stranger = zmq.curve_keypair()
            with caplog.at_level(logging.WARNING, logger="zeroshop.curve"):
                for _ in range(3):
                    assert ask(server.endpoint, {"method": "health"}, stranger,
                               Keyring.load(keys, "pricing").public) is None
            refusals = [r for r in caplog.records if "refused a CURVE client" in r.message]
            assert len(refusals) == 1, [r.message for r in refusals]
        finally:
            server.close()
            authenticator.stop()
            ctx.term()


def test_missing_keys_stop_a_service_with_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()  # no keys in it
    env = {**os.environ, "ZEROSHOP_CURVE_KEYS": str(folder), "PRICING_BIND": "tcp://127.0.0.1:*",
           "ZEROSHOP_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "services.pricing"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 1 and "pricing has no readable secret key" in done.stderr
