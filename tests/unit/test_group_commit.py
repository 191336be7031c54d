"""Group commit of queued writes (`Service.dispatch_many`), without sockets: orders'
`place_order` requests that queued up together share one transaction and one commit, and
every caller gets the answer it would have got alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from services.orders.models import Base, OrderRow
from services.orders.service import svc
from shared.db import make_engine, unit_of_work
from shared.events.models import OutboxRow
from shared.events.outbox import ensure_counter
from shared.migrations import migrate
from shared.runtime.replies import ReplyCache

LINE = {"product_id": 1, "name": "Mug", "quantity": 2, "unit_price": 1000,
        "final_unit_price": 900}
CUSTOMER = {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"}


@pytest.fixture
def commits(tmp_path: Path) -> Iterator[tuple[sessionmaker[Session], list[int]]]:
    """orders' database in a file (as it runs), and a list counting its commits."""
    engine = make_engine(f"sqlite:///{tmp_path / 'orders.db'}")
    migrate(engine, "orders", Base.metadata.sorted_tables[0].name)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with unit_of_work(sessions) as db:
        ensure_counter(db)
    counted: list[int] = []
    event.listen(engine, "commit", lambda _conn: counted.append(1))
    svc.replies = ReplyCache()
    svc.standby = False
    yield sessions, counted
    svc.standby = False
    engine.dispose()


def place(request_id: str, key: str | None = None, quantity: int = 2) -> bytes:
    return json.dumps({"id": request_id, "method": "place_order", "params": {
        "customer": CUSTOMER, "lines": [{**LINE, "quantity": quantity}], "currency": "USD",
        "idempotency_key": key}}).encode()


def answer(bodies: list[bytes], sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Every reply of one queued batch, by request index; each index answered once."""
    replies: dict[int, dict[str, Any]] = {}
    for index, reply in svc.dispatch_many([(body, None) for body in bodies], sessions):
        assert index not in replies and reply is not None
        replies[index] = json.loads(reply)
    assert sorted(replies) == list(range(len(bodies)))
    return [replies[i] for i in range(len(bodies))]


def stored(sessions: sessionmaker[Session]) -> tuple[int, list[int]]:
    with unit_of_work(sessions) as db:
        orders = db.scalar(select(func.count()).select_from(OrderRow)) or 0
        return orders, list(db.scalars(select(OutboxRow.seq).order_by(OutboxRow.seq)))


def test_queued_orders_share_one_commit(commits) -> None:
    sessions, counted = commits
    replies = answer([place(f"r{i}") for i in range(5)], sessions)
    assert [r["id"] for r in replies] == [f"r{i}" for i in range(5)]
    assert all(r["ok"] and r["result"]["created"] for r in replies)
    assert len({r["result"]["order_id"] for r in replies}) == 5
    assert len(counted) == 1  # one transaction, one fsync, for all five
    assert stored(sessions) == (5, [1, 2, 3, 4, 5])  # an event each, gap-free


def test_a_refused_order_gets_the_answer_it_would_get_alone(commits) -> None:
    sessions, counted = commits
    bodies = [place("first", key="k1"), place("reused", key="k1", quantity=3),
              place("same-again", key="k1"), place("after")]
    replies = answer(bodies, sessions)
    assert replies[1]["error"]["code"] == "conflict"  # the key, for another order
    first, again = replies[0]["result"], replies[2]["result"]
    assert first["created"] and not again["created"]
    assert again["order_id"] == first["order_id"] and replies[3]["ok"]
    # The group was rolled back; the one before the refusal ran alone, the refusal alone
    # (no commit), the two after it as a group again: two commits.
    assert len(counted) == 2
    assert stored(sessions) == (2, [1, 2])


def test_bad_params_in_a_group_get_their_error_and_the_rest_commit(commits) -> None:
    sessions, _ = commits
    bad = json.dumps({"id": "bad", "method": "place_order", "params": {"lines": []}}).encode()
    replies = answer([place("a"), bad, place("b")], sessions)
    assert replies[1]["error"]["code"] == "bad_params"
    assert replies[0]["ok"] and replies[2]["ok"]
    assert stored(sessions)[0] == 2


def test_a_read_between_writes_sees_the_writes_before_it(commits) -> None:
    sessions, counted = commits
    replies = answer([place("a"), place("b"),
                      json.dumps({"id": "read", "method": "list_orders", "params": {}}).encode(),
                      place("c")], sessions)
    assert replies[2]["result"]["total"] == 2  # the group before it was committed first
    assert len(counted) == 3  # the first two together, the read, the last alone
    assert replies[3]["ok"] and stored(sessions)[0] == 3


def test_a_failed_commit_answers_each_request_alone(commits) -> None:
    sessions, counted = commits
    failures = [RuntimeError("disk full, once")]

    def fail_once(session: Session) -> None:
        if failures:
            raise failures.pop()

    event.listen(sessions, "before_commit", fail_once)
    try:
        replies = answer([place("a"), place("b"), place("c")], sessions)
    finally:
        event.remove(sessions, "before_commit", fail_once)
    assert all(r["ok"] for r in replies)
    assert len(counted) == 3  # nothing of the group was kept; each committed on its own
    assert stored(sessions) == (3, [1, 2, 3])


def test_a_standby_groups_nothing_and_refuses_each(commits) -> None:
    sessions, counted = commits
    svc.standby = True
    replies = answer([place("a"), place("b")], sessions)
    assert [r["error"]["code"] for r in replies] == ["standby", "standby"]
    assert counted == [] and stored(sessions)[0] == 0


def test_garbage_among_queued_requests_gets_bad_request(commits) -> None:
    sessions, _ = commits
    replies = answer([place("a"), b"\xff not json", place("b")], sessions)
    assert replies[1]["error"]["code"] == "bad_request"
    assert replies[0]["ok"] and replies[2]["ok"]
