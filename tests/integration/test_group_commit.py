"""Group commit on the real orders process: `place_order` requests that queue up while
orders is busy (here: stopped with SIGSTOP) share commits, and every caller still gets its
own answer, one order and one gap-free event each."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from shared.config import free_port

from ..support import Platform, sample, scrape

CUSTOMER = {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
QUEUED = 40


@pytest.fixture
def orders(tmp_path: Path) -> Iterator[Platform]:
    running = Platform(tmp_path, services=["orders"], gateway=False,
                       ORDERS_METRICS_PORT=str(free_port()))
    yield running
    running.close()


def place(request_id: str, key: str | None, quantity: int = 1) -> bytes:
    line = {"product_id": 1, "name": "Mug", "quantity": quantity, "unit_price": 1000,
            "final_unit_price": 1000}
    return json.dumps({"id": request_id, "method": "place_order", "params": {
        "customer": CUSTOMER, "lines": [line], "currency": "USD",
        "idempotency_key": key}}).encode()


def test_queued_orders_are_committed_together_and_answered_one_by_one(orders: Platform) -> None:
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVTIMEO, 10000)
    dealer.connect(orders.endpoints["orders"])
    try:
        assert orders.call("orders", "health")["status"] == "ok"  # connected
        bodies = {f"r{i}": place(f"r{i}", key=None) for i in range(QUEUED)}
        bodies["key-first"] = place("key-first", key="k1")
        bodies["key-again"] = place("key-again", key="k1")  # the same order: the same answer
        bodies["key-other"] = place("key-other", key="k1", quantity=2)  # another: a conflict
        os.kill(orders.pid("orders"), signal.SIGSTOP)  # everything below queues up
        try:
            for body in bodies.values():
                dealer.send(body)
        finally:
            os.kill(orders.pid("orders"), signal.SIGCONT)
        replies = {}
        for _ in bodies:
            reply = json.loads(dealer.recv())
            replies[reply["id"]] = reply
    finally:
        dealer.close()
        ctx.term()
    assert set(replies) == set(bodies)  # every request answered, once
    assert replies["key-other"]["error"]["code"] == "conflict"
    first, again = replies["key-first"]["result"], replies["key-again"]["result"]
    assert again["order_id"] == first["order_id"] and not again["created"]
    placed = [replies[f"r{i}"]["result"] for i in range(QUEUED)] + [first]
    assert all(p["created"] for p in placed)
    order_ids = {p["order_id"] for p in placed}
    assert len(order_ids) == QUEUED + 1
    batch = orders.call("orders", "fetch_events", {"after": 0, "limit": 500})
    assert [e["seq"] for e in batch["events"]] == list(range(1, QUEUED + 2))  # no gap
    assert {json.loads(json.dumps(e["payload"]))["order_id"] for e in batch["events"]} == order_ids
    metrics = scrape(f"http://127.0.0.1:{orders.env['ORDERS_METRICS_PORT']}/metrics")
    labels = {"service": "orders", "method": "place_order"}
    grouped = sample(metrics, "zeroshop_rpc_group_commit_size_sum", **labels)
    assert grouped is not None and grouped >= 2  # some of them shared a commit
