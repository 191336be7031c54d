"""The idempotent consumer without sockets: inventory's real handler, a real database
(SQLite and PostgreSQL), events handed in directly, twice, broken, and out of turn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from services.inventory.models import Base, StockRow
from services.inventory.service import seed, svc
from shared.contracts.bus import Envelope
from shared.contracts.events import Customer, OrderLine, OrderPlaced
from shared.db import make_engine, unit_of_work
from shared.events.consumer import Consumer, Subscription
from shared.events.models import DeadLetterRow, DeliveryFailure, EventsBase, OutboxRow
from shared.events.outbox import ensure_counter

ADA = Customer(name="Ada", email="ada@example.com", phone="+44 20 7946 0000")


def placed(seq: int, product_id: int = 1, quantity: int = 1) -> Envelope:
    line = OrderLine(product_id=product_id, name="x", quantity=quantity, unit_price=100,
                     final_unit_price=100)
    event = OrderPlaced(order_id=seq, customer=ADA, lines=[line], total=100, currency="USD")
    return Envelope(publisher="orders", seq=seq, id=str(uuid.uuid4()), topic="order.placed",
                    version=1, occurred_at="2026-01-01T00:00:00+00:00",
                    payload=msgspec.Raw(msgspec.json.encode(event)))


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    for metadata in (Base.metadata, EventsBase.metadata):
        metadata.drop_all(engine)
        metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with unit_of_work(factory) as db:
        seed(db)
        ensure_counter(db)
    yield factory
    for metadata in (Base.metadata, EventsBase.metadata):
        metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def consumer(sessions: sessionmaker[Session]) -> Consumer:
    made = Consumer(sessions, svc.subscriptions, svc.contract.publishes, lambda: None,
                    max_attempts=3, retry_base_s=0.0)
    made.load_offsets(["orders"])
    return made


def stock(sessions: sessionmaker[Session], product_id: int = 1) -> int:
    with unit_of_work(sessions) as db:
        return db.get(StockRow, product_id).available  # type: ignore[union-attr]


def topics(sessions: sessionmaker[Session]) -> list[str]:
    with unit_of_work(sessions) as db:
        return list(db.scalars(select(OutboxRow.topic).order_by(OutboxRow.seq)))


class TestExactlyOnce:
    def test_an_event_applies_its_effect_and_moves_the_offset(self, sessions, consumer) -> None:
        before = stock(sessions)
        assert consumer.apply("orders", placed(1, quantity=2))
        assert stock(sessions) == before - 2
        assert topics(sessions) == ["stock.reserved"]
        assert consumer.load_offsets(["orders"]) == {"orders": 1}

    def test_the_same_event_twice_has_one_effect(self, sessions, consumer) -> None:
        before = stock(sessions)
        event = placed(1)
        assert consumer.apply("orders", event)
        assert consumer.apply("orders", event)  # skipped: the offset is already past it
        assert stock(sessions) == before - 1
        assert topics(sessions) == ["stock.reserved"]

    def test_an_event_out_of_turn_changes_nothing(self, sessions, consumer) -> None:
        before = stock(sessions)
        assert not consumer.apply("orders", placed(5))  # offset is 0: 5 is not next
        assert stock(sessions) == before and topics(sessions) == []
        assert consumer.load_offsets(["orders"]) == {"orders": 0}


class TestPoisonEvents:
    def test_a_failing_event_becomes_a_dead_letter_and_the_next_flows(self, sessions,
                                                                      consumer) -> None:
        broken = msgspec.structs.replace(placed(1), payload=msgspec.Raw(b'{"order_id": "x"}'))
        assert [consumer.apply("orders", broken) for _ in range(3)] == [False, False, True]
        with unit_of_work(sessions) as db:
            (letter,) = db.scalars(select(DeadLetterRow)).all()
            assert (letter.seq, letter.attempts, letter.topic) == (1, 3, "order.placed")
            assert "order_id" in letter.error
            assert db.scalars(select(DeliveryFailure)).all() == []
        assert consumer.apply("orders", placed(2))
        assert consumer.load_offsets(["orders"]) == {"orders": 2}

    def test_failures_are_counted_across_restarts(self, sessions) -> None:
        broken = msgspec.structs.replace(placed(1), payload=msgspec.Raw(b"[]"))
        outcomes = []
        for _ in range(3):  # a fresh consumer each time, as after a crash
            fresh = Consumer(sessions, svc.subscriptions, (), lambda: None, 3, 0.0)
            fresh.load_offsets(["orders"])
            outcomes.append(fresh.apply("orders", broken))
        assert outcomes == [False, False, True]  # the third attempt made it a dead letter

    def test_one_attempt_means_a_dead_letter_at_once(self, sessions) -> None:
        impatient = Consumer(sessions, svc.subscriptions, (), lambda: None, 1, 0.0)
        impatient.load_offsets(["orders"])
        broken = msgspec.structs.replace(placed(1), payload=msgspec.Raw(b"[]"))
        assert impatient.apply("orders", broken)
        with unit_of_work(sessions) as db:
            assert db.scalars(select(DeadLetterRow.attempts)).all() == [1]

    def test_a_retry_waits_for_its_backoff(self, sessions) -> None:
        slow = Consumer(sessions, svc.subscriptions, (), lambda: None, 3, retry_base_s=60)
        slow.load_offsets(["orders"])
        broken = msgspec.structs.replace(placed(1), payload=msgspec.Raw(b"[]"))
        assert not slow.apply("orders", broken)
        assert not slow.apply("orders", broken)  # too early: not even tried
        with unit_of_work(sessions) as db:
            assert db.get(DeliveryFailure, ("orders", 1)).attempts == 1  # type: ignore[union-attr]

    def test_a_dead_letter_replays_once_fixed(self, sessions, consumer) -> None:
        before = stock(sessions)
        good = placed(1)
        with unit_of_work(sessions) as db:
            db.add(DeadLetterRow(publisher="orders", seq=1, event_id=good.id, topic=good.topic,
                                 version=1, payload=bytes(good.payload).decode(),
                                 occurred_at=good.occurred_at, attempts=3, error="was down",
                                 failed_at="2026-01-01T00:00:00+00:00"))
        with unit_of_work(sessions) as db:
            letter = db.scalars(select(DeadLetterRow)).one()
            assert consumer.replay(db, letter) is None
            assert letter.replayed_at is not None
        assert stock(sessions) == before - 1 and topics(sessions) == ["stock.reserved"]


class TestGroupCommit:
    def test_a_run_of_events_applies_in_one_transaction(self, sessions, consumer) -> None:
        before = stock(sessions)
        assert consumer.apply_many("orders", [placed(seq, quantity=1) for seq in (1, 2, 3)]) == 3
        assert stock(sessions) == before - 3
        assert topics(sessions) == ["stock.reserved"] * 3
        assert consumer.load_offsets(["orders"]) == {"orders": 3}

    def test_duplicates_at_the_front_are_skipped(self, sessions, consumer) -> None:
        before = stock(sessions)
        assert consumer.apply("orders", placed(1))
        assert consumer.apply_many("orders", [placed(1), placed(2), placed(3)]) == 3
        assert stock(sessions) == before - 3 and len(topics(sessions)) == 3

    def test_a_run_that_is_not_next_changes_nothing(self, sessions, consumer) -> None:
        before = stock(sessions)
        assert consumer.apply_many("orders", [placed(4), placed(5)]) == 0
        assert stock(sessions) == before and consumer.load_offsets(["orders"]) == {"orders": 0}

    def test_a_poison_event_in_a_run_fails_alone(self, sessions, consumer) -> None:
        before = stock(sessions)
        broken = msgspec.structs.replace(placed(2), payload=msgspec.Raw(b'{"order_id": "x"}'))
        run = [placed(1), broken, placed(3)]
        assert consumer.apply_many("orders", run) == 1  # the first committed; attempt 1
        assert stock(sessions) == before - 1
        assert consumer.apply_many("orders", run[1:]) == 0  # attempt 2
        assert consumer.apply_many("orders", run[1:]) == 1  # attempt 3: a dead letter
        assert stock(sessions) == before - 1
        with unit_of_work(sessions) as db:
            assert db.scalar(select(DeadLetterRow.attempts)) == 3  # one per try, no more
        assert consumer.apply_many("orders", run[2:]) == 1  # the one behind it flows
        assert stock(sessions) == before - 2
        with unit_of_work(sessions) as db:
            assert [d.seq for d in db.scalars(select(DeadLetterRow))] == [2]
        assert consumer.load_offsets(["orders"]) == {"orders": 3}


def unhandled(seq: int) -> Envelope:
    """An event of orders that inventory has no handler for."""
    return Envelope(publisher="orders", seq=seq, id=str(uuid.uuid4()), topic="order.confirmed",
                    version=1, occurred_at="2026-01-01T00:00:00+00:00",
                    payload=msgspec.Raw(b"{}"))


class TestPassingOver:
    def test_events_without_a_handler_get_no_transaction(self, sessions, consumer) -> None:
        commits: list[int] = []
        event.listen(sessions.kw["bind"], "commit", lambda _conn: commits.append(1))
        assert consumer.apply_many("orders", [unhandled(1), unhandled(2)]) == 2
        assert commits == [] and consumer.passed_over("orders") == 2
        assert consumer.load_offsets(["orders"]) == {"orders": 0}  # not stored yet

    def test_the_next_event_with_an_effect_stores_the_offset_past_them(self, sessions,
                                                                       consumer) -> None:
        before = stock(sessions)
        assert consumer.apply_many("orders", [unhandled(1), unhandled(2)]) == 2
        assert consumer.apply_many("orders", [placed(3)]) == 1
        assert stock(sessions) == before - 1 and consumer.passed_over("orders") == 0
        assert consumer.load_offsets(["orders"]) == {"orders": 3}

    def test_with_nothing_after_them_they_are_stored_on_their_own(self, consumer) -> None:
        assert consumer.apply_many("orders", [unhandled(1)]) == 1
        consumer.write_passed_over()  # what the consumer's loop does once they are due
        assert consumer.load_offsets(["orders"]) == {"orders": 1}
        assert consumer.passed_over("orders") == 0

    def test_a_crash_before_they_are_stored_passes_over_them_again(self, sessions,
                                                                   consumer) -> None:
        before = stock(sessions)
        assert consumer.apply_many("orders", [unhandled(1), unhandled(2)]) == 2
        restarted = Consumer(sessions, svc.subscriptions, svc.contract.publishes, lambda: None)
        assert restarted.load_offsets(["orders"]) == {"orders": 0}  # fetched again from 1
        assert restarted.apply_many("orders", [unhandled(1), unhandled(2), placed(3)]) == 3
        assert stock(sessions) == before - 1
        assert restarted.load_offsets(["orders"]) == {"orders": 3}

    def test_a_dead_letter_after_them_moves_the_offset_past_all(self, sessions) -> None:
        impatient = Consumer(sessions, svc.subscriptions, (), lambda: None, 1, 0.0)
        impatient.load_offsets(["orders"])
        assert impatient.apply_many("orders", [unhandled(1)]) == 1
        broken = msgspec.structs.replace(placed(2), payload=msgspec.Raw(b"[]"))
        assert impatient.apply("orders", broken)
        assert impatient.load_offsets(["orders"]) == {"orders": 2}
        with unit_of_work(sessions) as db:
            assert db.scalars(select(DeadLetterRow.seq)).all() == [2]


class TestWhatRunsAgain:
    def test_a_handler_with_a_sender_is_never_run_again_after_a_failure(self,
                                                                       sessions) -> None:
        sent: list[int] = []

        def notify(event: OrderPlaced, db: Session, sender: Any) -> None:
            if event.order_id == 2:
                raise RuntimeError("the provider refused it")
            sender.append(event.order_id)

        subscription = Subscription("order.placed", OrderPlaced, notify, ("db", "sender"),
                                    {"sender": sent})
        notifier = Consumer(sessions, {"order.placed": subscription}, (), lambda: None, 3, 0.0)
        notifier.load_offsets(["orders"])
        assert notifier.apply_many("orders", [placed(1), placed(2), placed(3)]) == 1
        assert sent == [1]  # each handler in a savepoint: the first is not sent twice
        assert notifier.load_offsets(["orders"]) == {"orders": 1}

    def test_a_database_only_run_rolled_back_applies_the_events_before_once(
            self, sessions, consumer) -> None:
        before = stock(sessions)
        broken = msgspec.structs.replace(placed(3), payload=msgspec.Raw(b"[]"))
        assert consumer.apply_many("orders", [placed(1), placed(2), broken, placed(4)]) == 2
        assert stock(sessions) == before - 2  # 1 and 2 committed once, after the rollback
        assert topics(sessions) == ["stock.reserved"] * 2
        with unit_of_work(sessions) as db:
            assert db.get(DeliveryFailure, ("orders", 3)).attempts == 1  # type: ignore[union-attr]
        assert consumer.load_offsets(["orders"]) == {"orders": 2}
