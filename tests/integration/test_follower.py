"""The catch-up follower against a real publisher on loopback (PUB + a ROUTER answering
fetch_events), fed lost, repeated, out-of-order and garbage messages.

The publisher here is the test's own: the same messaging classes the services use, with
events kept in a list instead of an outbox table, so each fault can be staged exactly.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec
import pytest

from shared.contracts.bus import Envelope, EventBatch, FetchEvents
from shared.contracts.events import HEARTBEAT
from shared.events.follow import Follower, Source
from shared.events.relay import Heartbeat
from shared.messaging import Publisher, RpcServer, new_context
from shared.messaging.codec import decode_request, encode_error, encode_result


def envelope(seq: int) -> Envelope:
    return Envelope(publisher="orders", seq=seq, id=str(uuid.uuid4()), topic="order.placed",
                    version=1, occurred_at="2026-01-01T00:00:00.000+00:00",
                    payload=msgspec.Raw(b'{"order_id": %d}' % seq))


@dataclass
class FakePublisher:
    """Keeps events in `store`; `live()` sends one on PUB, `fetch_events` serves the store."""

    ctx: object
    store: list[Envelope] = field(default_factory=list)
    fetches: int = 0

    def __post_init__(self) -> None:
        self.server = RpcServer(self.ctx, "tcp://127.0.0.1:*")  # type: ignore[arg-type]
        self.pub = Publisher(self.ctx, "tcp://127.0.0.1:*")  # type: ignore[arg-type]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.server.serve,
                                        args=(self._answer, self._stop.is_set, 20))
        self._thread.start()

    def _answer(self, body: bytes, caller: str | None) -> bytes:
        request = decode_request(body)
        if request.method != "fetch_events":
            return encode_error(request.id, "unknown_method", request.method)
        params = msgspec.json.decode(request.params, type=FetchEvents)
        self.fetches += 1
        events = [e for e in self.store if e.seq > params.after][: params.limit]
        return encode_result(request.id, EventBatch(publisher="orders", events=events,
                                                    last_seq=len(self.store)))

    def add(self, count: int) -> list[Envelope]:
        new = [envelope(len(self.store) + 1 + i) for i in range(count)]
        self.store.extend(new)
        return new

    def live(self, event: Envelope) -> None:
        self.pub.send(event.topic, msgspec.json.encode(event))

    def heartbeat(self) -> None:
        self.pub.send(HEARTBEAT, msgspec.json.encode(Heartbeat("orders", len(self.store))))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()
        self.pub.close()


@pytest.fixture
def ctx() -> Iterator[object]:
    context = new_context()
    yield context
    context.term()


@pytest.fixture
def publisher(ctx: object) -> Iterator[FakePublisher]:
    fake = FakePublisher(ctx)
    yield fake
    fake.close()


class Collector:
    def __init__(self, ctx: object, publisher: FakePublisher, refuse: set[int] | None = None,
                 poll_ms: int = 0):
        self.applied: list[int] = []
        self.refuse = refuse or set()
        self.follower = Follower(ctx, {"orders": Source(publisher.server.endpoint,
                                                        publisher.pub.endpoint)},
                                 {"orders": 0}, self.apply, fetch_timeout_ms=2000,
                                 poll_ms=poll_ms)

    def apply(self, _publisher: str, event: Envelope) -> bool:
        if event.seq in self.refuse:
            return False
        self.applied.append(event.seq)
        return True

    def run_until(self, done: object, timeout: float = 10.0, poke: object = None) -> None:
        end = time.monotonic() + timeout
        while not done():  # type: ignore[operator]
            assert time.monotonic() < end, f"timed out; applied {self.applied}"
            if poke is not None:
                poke()  # type: ignore[operator]
            self.follower.step(20)

    def close(self) -> None:
        self.follower.close()


@pytest.fixture
def collector(ctx: object, publisher: FakePublisher) -> Iterator[Collector]:
    following = Collector(ctx, publisher)
    yield following
    following.close()


class TestCatchUp:
    def test_events_published_before_the_subscriber_are_fetched(self, ctx, publisher) -> None:
        for event in publisher.add(50):
            publisher.live(event)  # nobody listens yet: PUB drops them all
        following = Collector(ctx, publisher)
        try:
            following.run_until(lambda: len(following.applied) == 50)
            assert following.applied == list(range(1, 51))
        finally:
            following.close()

    def test_poll_mode_fetches_without_pub_sub(self, ctx, publisher) -> None:
        following = Collector(ctx, publisher, poll_ms=10)
        try:
            following.run_until(lambda: publisher.fetches >= 1)
            publisher.add(5)  # never sent live: only polling can find them
            following.run_until(lambda: following.applied == [1, 2, 3, 4, 5])
        finally:
            following.close()

    def test_poll_mode_waits_between_fetches(self, ctx, publisher) -> None:
        following = Collector(ctx, publisher, poll_ms=20)
        try:
            started = time.monotonic()
            for _ in range(5):
                following.follower.step(1000)
            # One fetch per step, each step waiting its poll interval: never a busy loop.
            assert publisher.fetches == 5
            assert time.monotonic() - started >= 5 * 0.02
        finally:
            following.close()

    def test_a_heartbeat_ahead_reveals_lost_events(self, collector, publisher) -> None:
        collector.run_until(lambda: not collector.follower.behind)  # level at 0
        publisher.add(3)  # committed, never sent live
        collector.run_until(lambda: collector.applied == [1, 2, 3], poke=publisher.heartbeat)


class TestLiveFaults:
    def test_a_gap_is_filled_in_order(self, collector, publisher) -> None:
        collector.run_until(lambda: not collector.follower.behind)
        one, _two, three = publisher.add(3)

        def send_without_two() -> None:
            publisher.live(one)
            publisher.live(three)
        collector.run_until(lambda: collector.applied == [1, 2, 3], poke=send_without_two)

    def test_duplicates_are_applied_once(self, collector, publisher) -> None:
        collector.run_until(lambda: not collector.follower.behind)
        events = publisher.add(3)

        def send_twice() -> None:
            for event in events + events:
                publisher.live(event)
        collector.run_until(lambda: len(collector.applied) >= 3, poke=send_twice)
        for _ in range(20):
            collector.follower.step(10)
        assert collector.applied == [1, 2, 3]

    def test_garbage_on_the_bus_is_ignored(self, collector, publisher) -> None:
        collector.run_until(lambda: not collector.follower.behind)
        (event,) = publisher.add(1)
        garbage = [b"not json", b"{}", b'{"seq": "x"}', b"\xff" * 100,
                   msgspec.json.encode({"publisher": "orders", "seq": -5})]

        def send_garbage_then_event() -> None:
            for body in garbage:
                publisher.pub.send("order.placed", body)
            publisher.pub.send(HEARTBEAT, b"[]")
            publisher.live(event)
        collector.run_until(lambda: collector.applied == [1], poke=send_garbage_then_event)

    def test_a_refused_event_is_retried_and_holds_the_ones_behind(self, ctx, publisher) -> None:
        following = Collector(ctx, publisher, refuse={2})
        try:
            publisher.add(3)
            following.run_until(lambda: publisher.fetches >= 3)
            assert following.applied == [1]  # 3 waits behind 2: order is kept
            following.refuse.clear()
            following.run_until(lambda: following.applied == [1, 2, 3])
        finally:
            following.close()
