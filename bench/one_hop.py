"""Event-bus benchmark, part 3: one durable hop, ZeroShop's bus versus RabbitMQ.

Each variant has one producer and one consumer in this process (the consumer in its own
thread, recording the moment it has applied and committed or acknowledged a message):

- ZeroShop: `orders.place_order` commits an order with its `order.placed` outbox row (the
  orders process, SQLite), the relay publishes it on PUB, and a `shared.events.Consumer` -
  the code every service consumer runs - applies it: an effect row and the offset, one
  SQLite transaction. Only orders runs, so nothing else reacts.
- RabbitMQ: a persistent message (the same bytes as an `order.placed` envelope) published to
  a durable classic queue on a channel with publisher confirms (basic_publish waits for the
  broker's ack); a consumer with manual acks (prefetch 200) acknowledges it, either at once
  or after committing an effect row keyed by the message id in SQLite (the idempotent
  consumer ZeroShop's offset gives, done by hand).

If pika is not installed or RabbitMQ does not answer, only the RabbitMQ rows are skipped.
"""

from __future__ import annotations

import itertools
import threading
import time
import urllib.parse
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec
from sqlalchemy import Engine, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from shared.catalog_seed import products
from shared.contracts.bus import Envelope
from shared.contracts.events import OrderPlaced
from shared.db import make_engine, unit_of_work
from shared.events.consumer import Consumer, Subscription
from shared.events.follow import Source
from shared.events.models import EventsBase
from shared.messaging import new_context
from tests.support import Platform

from .common import Arrivals, Summary, fmt_ms, fmt_ratio, progress, table
from .event_flow import CUSTOMER, HEARTBEAT_MS

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class _Base(DeclarativeBase):
    pass


class Applied(_Base):
    """The consumer's effect: one row per message, written with the offset (or as the
    dedup record of the RabbitMQ consumer)."""

    __tablename__ = "bench_applied"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]


def _database(path: Path) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{path}")  # WAL, like every service database
    EventsBase.metadata.create_all(engine)
    _Base.metadata.create_all(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)


class Hop(Protocol):
    label: str
    arrivals: Arrivals

    def send(self) -> Hashable: ...

    def close(self) -> None: ...


# --- ZeroShop -------------------------------------------------------------------------------

def _record(event: OrderPlaced, db: Session) -> None:
    db.add(Applied(key=f"order-{event.order_id}", size=len(event.lines)))


class _RecordingConsumer(Consumer):
    def __init__(self, *args: Any, arrivals: Arrivals, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals = arrivals
        self.sample: bytes = b""  # one order.placed envelope as the relay sends it

    def apply(self, publisher: str, event: Envelope) -> bool:
        done = super().apply(publisher, event)  # committed (effect + offset) when True
        if done and event.topic == "order.placed":
            self.arrivals.mark(msgspec.json.decode(bytes(event.payload))["order_id"])
            if not self.sample:
                self.sample = msgspec.json.encode(event)
        return done


class ZeroShopHop:
    label = "ZeroShop: outbox -> relay PUB -> consumer (SQLite: effect + offset)"

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.arrivals = Arrivals()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx: Any = None
        self.platform = Platform(data_dir / "platform", ["orders"], gateway=False,
                                 ZEROSHOP_HEARTBEAT_MS=HEARTBEAT_MS)
        try:
            self._engine, sessions = _database(data_dir / "hop-consumer.db")
            self.consumer = _RecordingConsumer(
                sessions, {"order.placed": Subscription("order.placed", OrderPlaced, _record,
                                                        ("db",), {})},
                (), lambda: None, arrivals=self.arrivals)
            env = self.platform.env
            source = Source(env["ORDERS_ENDPOINT"], env["ORDERS_EVENTS_ENDPOINT"])
            self._ctx = new_context()
            self._thread = threading.Thread(
                target=self.consumer.run, args=(self._ctx, {"orders": source}, self._stopping),
                name="zeroshop-hop-consumer", daemon=True)
            self._thread.start()
        except BaseException:
            self.close()
            raise
        self._products = itertools.cycle([p.id for p in products() if p.stock >= 100])

    def send(self) -> Hashable:
        line = {"product_id": next(self._products), "name": "bench item", "quantity": 1,
                "unit_price": 1000, "final_unit_price": 900}
        accepted = self.platform.call("orders", "place_order", {
            "customer": CUSTOMER, "lines": [line], "currency": "USD", "idempotency_key": None},
            timeout_ms=5000)
        return int(accepted["order_id"])

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._ctx is not None:
            self._ctx.term()
        self.platform.close()


# --- RabbitMQ -------------------------------------------------------------------------------

@dataclass(frozen=True)
class RabbitTarget:
    host: str
    port: int
    user: str
    password: str
    vhost: str

    @classmethod
    def parse(cls, url: str) -> RabbitTarget:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "amqp" or (parts.hostname or "") not in LOOPBACK:
            raise ValueError(f"{url!r}: only amqp:// on the loopback interface is measured")
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        return cls(parts.hostname or "127.0.0.1", parts.port or 5672,
                   urllib.parse.unquote(parts.username or "guest"),
                   urllib.parse.unquote(parts.password or "guest"), vhost)

    def parameters(self) -> Any:
        import pika

        return pika.ConnectionParameters(
            self.host, self.port, self.vhost, pika.PlainCredentials(self.user, self.password),
            connection_attempts=1, socket_timeout=2, blocked_connection_timeout=10)


def rabbit_version(target: RabbitTarget) -> tuple[str | None, str]:
    """(RabbitMQ and Erlang versions, None) or (None, why RabbitMQ cannot be measured)."""
    try:
        import pika
    except ImportError:
        return None, ("pika is not installed (`.venv/bin/python -m pip install -e "
                      "'.[bench]'`)")
    try:
        connection = pika.BlockingConnection(target.parameters())
    except Exception as exc:  # noqa: BLE001 - any failure means: skip this row
        return None, f"RabbitMQ at {target.host}:{target.port} did not answer ({exc!r})"
    try:
        props = getattr(connection._impl, "server_properties", {}) or {}
        version = f"{props.get('product', 'RabbitMQ')} {props.get('version', '?')}"
        if props.get("platform"):
            version += f" ({props['platform']})"
        return f"{version}, pika {pika.__version__}", ""
    finally:
        connection.close()


class RabbitHop:
    """One durable queue, a confirming publisher and a manual-ack consumer thread."""

    def __init__(self, target: RabbitTarget, queue: str, body: bytes,
                 database: Path | None) -> None:
        import pika

        self._pika = pika
        self.label = ("RabbitMQ: persistent + confirms -> durable queue -> manual ack"
                      + (" after a SQLite commit (effect + message id)" if database else ""))
        self.arrivals = Arrivals()
        self._target, self._queue, self._body = target, queue, body
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self.failure: BaseException | None = None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._consumer: Any = None
        self._channel: Any = None
        self._thread: threading.Thread | None = None
        self._publisher = pika.BlockingConnection(target.parameters())
        try:
            self._out = self._publisher.channel()
            # x-expires: a queue left behind by a killed run disappears after ten minutes.
            self._out.queue_declare(queue, durable=True, arguments={
                "x-queue-type": "classic", "x-expires": 600_000})
            self._out.confirm_delivery()
            if database is not None:
                self._engine, self._sessions = _database(database)
            self._thread = threading.Thread(target=self._consume, daemon=True,
                                            name=f"rabbit-consumer-{queue}")
            self._thread.start()
            if not self._ready.wait(10) or self.failure is not None:
                raise RuntimeError(f"the RabbitMQ consumer did not start: {self.failure!r}")
        except BaseException:
            self.close()
            raise

    def _consume(self) -> None:
        try:
            self._consumer = self._pika.BlockingConnection(self._target.parameters())
            self._channel = self._consumer.channel()
            self._channel.basic_qos(prefetch_count=200)
            self._channel.basic_consume(self._queue, self._on_message, auto_ack=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the constructor
            self.failure = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._channel.start_consuming()
        except BaseException as exc:  # noqa: BLE001 - reported as errors (messages not seen)
            self.failure = exc
        finally:
            try:
                self._consumer.close()
            except Exception:  # noqa: BLE001 - already closed
                pass

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        key = properties.message_id
        if self._sessions is not None:
            with unit_of_work(self._sessions) as db:
                if db.get(Applied, key) is None:  # a redelivery is applied once
                    db.add(Applied(key=key, size=len(body)))
        channel.basic_ack(method.delivery_tag)
        self.arrivals.mark(key)

    def send(self) -> Hashable:
        key = str(next(self._ids))
        self._out.basic_publish("", self._queue, self._body, self._pika.BasicProperties(
            delivery_mode=self._pika.DeliveryMode.Persistent, message_id=key,
            content_type="application/json"), mandatory=True)  # returns once confirmed
        return key

    def close(self) -> None:
        if self._consumer is not None and self._thread is not None and self._thread.is_alive():
            try:
                self._consumer.add_callback_threadsafe(self._channel.stop_consuming)
            except Exception:  # noqa: BLE001 - the connection is already gone
                pass
            self._thread.join(5)
        try:
            if self._publisher.is_open:
                self._out.queue_delete(self._queue)
                self._publisher.close()
        except Exception:  # noqa: BLE001 - best effort; x-expires removes the queue anyway
            pass
        if self._engine is not None:
            self._engine.dispose()


# --- measuring --------------------------------------------------------------------------------

@dataclass
class HopSamples:
    label: str
    send: list[float] = field(default_factory=list)  # until the producer's call returned
    hop: list[float] = field(default_factory=list)  # until the consumer had applied it
    after: list[float] = field(default_factory=list)  # from the send returning to applied
    errors: int = 0
    throughput: float = float("nan")  # messages per second, one producer, send after send
    throughput_errors: int = 0


@dataclass
class HopResult:
    samples: list[HopSamples]
    rounds: int
    messages: int
    body_bytes: int
    rabbit: str  # versions, or why the RabbitMQ rows are missing
    rabbit_ok: bool


def _sample(hop: Hop, out: HopSamples) -> None:
    start = time.perf_counter()
    key = hop.send()
    sent = time.perf_counter()
    at = hop.arrivals.wait(key)
    if at is None:
        out.errors += 1
        return
    out.send.append(sent - start)
    out.hop.append(at - start)
    out.after.append(at - sent)


def _throughput(hop: Hop, out: HopSamples, messages: int) -> None:
    start = time.perf_counter()
    keys = [hop.send() for _ in range(messages)]
    times = [hop.arrivals.wait(key) for key in keys]
    seen = [t for t in times if t is not None]
    out.throughput_errors = len(times) - len(seen)
    if seen:
        out.throughput = len(seen) / (max(seen) - start)


def measure(hops: Sequence[Hop], rounds: int, warmup: int, messages: int) -> list[HopSamples]:
    samples = [HopSamples(hop.label) for hop in hops]
    for r in range(-warmup, rounds):
        k = r % len(hops)
        for i in [*range(k, len(hops)), *range(k)]:
            _sample(hops[i], samples[i] if r >= 0 else HopSamples(hops[i].label))
            time.sleep(0.002)
    progress(f"  one hop: {rounds} rounds done; throughput, {messages} messages per variant")
    for hop, out in zip(hops, samples, strict=True):
        _throughput(hop, out, messages)
    return samples


def render(result: HopResult) -> str:
    rows = []
    base = Summary.of(result.samples[0].hop) if result.samples else None
    for s in result.samples:
        send, hop, after = Summary.of(s.send), Summary.of(s.hop), Summary.of(s.after)
        rows.append([s.label, str(hop.count), fmt_ms(send.median_ms), fmt_ms(hop.median_ms),
                     fmt_ms(hop.p95_ms), fmt_ms(after.median_ms),
                     fmt_ratio(hop.median_ms, base.median_ms) if base else "n/a",
                     f"{s.throughput:.0f}", str(s.errors + s.throughput_errors)])
    if not result.rabbit_ok:
        rows.append(["RabbitMQ rows skipped (see above)", *["-"] * 8])
    return "\n\n".join([
        f"{result.rounds} rounds of one message per variant (interleaved, rotating order, "
        f"after warm-up), then {result.messages} messages per variant sent one after another "
        f"as fast as the producer's call returns. The clock starts just before the "
        f"producer's call. **Send**: until the call returned (ZeroShop: `place_order` "
        f"answered, the outbox row committed; RabbitMQ: the publisher confirm arrived). "
        f"**Hop**: until the consumer thread had committed (ZeroShop: effect + offset) or "
        f"acknowledged (RabbitMQ) it. **After send**: from the producer's call returning to "
        f"the consumer done, the part of the hop that follows durability (for ZeroShop: "
        f"outbox commit -> relay -> consumer commit, plus the RPC reply); negative when the "
        f"consumer was done before the producer heard back. Message: {result.body_bytes} "
        f"bytes (an `order.placed` envelope as the relay sends it; the same bytes go to "
        f"RabbitMQ). Broker: {result.rabbit}.",
        table(["variant", "messages", "send median ms", "hop median ms", "hop p95 ms",
               "after send median ms", "hop vs ZeroShop", "messages/s", "errors"], rows),
    ])


def run(data_dir: Path, target: RabbitTarget, rounds: int, warmup: int,
        messages: int) -> HopResult:
    hops: list[Hop] = []
    version, why = rabbit_version(target)
    try:
        progress("one hop: starting orders alone and a ZeroShop consumer in this process")
        zeroshop = ZeroShopHop(data_dir / "hop")
        hops.append(zeroshop)
        for _ in range(3):  # the consumer catches up and is live on PUB
            _sample(zeroshop, HopSamples(zeroshop.label))
        body = zeroshop.consumer.sample or b"{}"
        if version is not None:
            stem = f"zeroshop-bench-{time.time_ns():x}"
            try:
                hops.append(RabbitHop(target, stem + "-ack", body, None))
                hops.append(RabbitHop(target, stem + "-sqlite", body,
                                      data_dir / "rabbit-consumer.db"))
            except Exception as exc:  # noqa: BLE001 - a benchmark: report and go on
                version, why = None, f"RabbitMQ failed during setup ({exc!r})"
                for hop in hops[1:]:
                    hop.close()
                del hops[1:]
        if version is None:
            progress(f"one hop: RabbitMQ rows skipped: {why}")
        samples = measure(hops, rounds, warmup, messages)
        return HopResult(samples, rounds, messages, len(body),
                         version if version is not None else f"not measured: {why}",
                         version is not None)
    finally:
        for hop in reversed(hops):
            hop.close()
