"""One consumer of S3's durable fan-out, as its own process (a service is one).

    python -m bench.s3_events.sink zeroshop NAME DB REPORT --rpc EP --events EP
    python -m bench.s3_events.sink rabbitmq NAME DB REPORT --amqp URL --queue Q

Each commits every message it applies to its own SQLite file (a row keyed by the message's
sequence number, WAL, fsync per commit like every service database) and only then reports
(its name, the commit's CLOCK_MONOTONIC time, the keys committed) on a PUSH socket to the
benchmark, which measures latency from those times and checks the sequence numbers.

- zeroshop: `shared.events.Consumer`, the code every service consumer runs (PUB/SUB plus
  fetch on gaps, effect and offset in one transaction, group commit of what arrived
  together), following the orders service; the handler is a plain typed function.
- rabbitmq: pika as its tutorials write it: a BlockingConnection, prefetch, a callback
  that commits the row (skipping a redelivered one) and then acks that message.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import zmq
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from shared.contracts.bus import Envelope
from shared.contracts.events import OrderPlaced
from shared.db import make_engine, unit_of_work
from shared.events.consumer import Consumer, Subscription
from shared.events.follow import Source
from shared.events.models import EventsBase
from shared.messaging import new_context

PREFETCH = 100  # RabbitMQ's consumer prefetch: a common setting, not tuned for this run
READY = -1  # the key a sink reports once it is subscribed


class _Base(DeclarativeBase):
    pass


class Applied(_Base):
    """The consumer's effect: one row per message, keyed by its sequence number."""

    __tablename__ = "bench_applied"

    seq: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[int]  # what the benchmark's producer knows the message by


def database(path: Path) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{path}")
    EventsBase.metadata.create_all(engine)
    _Base.metadata.create_all(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)


def sequence_check(path: Path) -> tuple[int, int, int]:
    """(rows, lowest seq, highest seq) of a sink's database, read after the run."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            rows, low, high = conn.execute(select(func.count(), func.min(Applied.seq),
                                                  func.max(Applied.seq))).one()
    finally:
        engine.dispose()
    return int(rows), int(low or 0), int(high or 0)


class Reporter:
    """PUSH to the benchmark: (sink name, commit time, keys); no high-water mark, so a
    report is never dropped."""

    def __init__(self, ctx: Any, endpoint: str, name: str) -> None:
        self._socket = ctx.socket(zmq.PUSH)
        self._socket.setsockopt(zmq.SNDHWM, 0)
        self._socket.setsockopt(zmq.LINGER, 2000)
        self._socket.connect(endpoint)
        self._name = name

    def committed(self, keys: Sequence[int]) -> None:
        self._socket.send(msgspec.msgpack.encode((self._name, time.monotonic(), list(keys))))

    def close(self) -> None:
        self._socket.close()


# --- ZeroShop ---------------------------------------------------------------------------------

class _OrderId(msgspec.Struct):
    order_id: int


_order_id = msgspec.json.Decoder(_OrderId)


def record_order(event: OrderPlaced, db: Session, envelope: Envelope) -> None:
    """The handler: one effect row per order.placed, committed with the offset."""
    db.add(Applied(seq=envelope.seq, key=event.order_id))


class ReportingConsumer(Consumer):
    """The library's consumer, reporting each committed run (one report per commit)."""

    def __init__(self, *args: Any, reporter: Reporter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reporter = reporter

    def _committed(self, db: Session, publisher: str, events: Sequence[Envelope]) -> None:
        super()._committed(db, publisher, events)
        self.reporter.committed([_order_id.decode(e.payload).order_id for e in events
                                 if e.topic == "order.placed"])


def run_zeroshop(args: argparse.Namespace, reporter: Reporter, ctx: Any) -> None:
    _, sessions = database(args.db)
    subscriptions = {"order.placed": Subscription("order.placed", OrderPlaced, record_order,
                                                  ("db", "envelope"), {})}
    consumer = ReportingConsumer(sessions, subscriptions, (), lambda: None,
                                 reporter=reporter, service=args.name)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    reporter.committed([READY])  # the follower catches up on its own from offset 0
    consumer.run(ctx, {"orders": Source(args.rpc, args.events)}, stopping)


# --- RabbitMQ ---------------------------------------------------------------------------------

def run_rabbitmq(args: argparse.Namespace, reporter: Reporter) -> None:
    import pika

    _, sessions = database(args.db)
    connection = pika.BlockingConnection(pika.URLParameters(args.amqp))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)

    def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
        seq = int(properties.message_id)
        with unit_of_work(sessions) as db:
            if db.get(Applied, seq) is None:  # a redelivery is applied once
                db.add(Applied(seq=seq, key=seq))
        channel.basic_ack(method.delivery_tag)
        reporter.committed([seq])

    channel.basic_consume(args.queue, on_message, auto_ack=False)
    signal.signal(signal.SIGTERM, lambda *_: connection.add_callback_threadsafe(
        channel.stop_consuming))
    reporter.committed([READY])
    try:
        channel.start_consuming()
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.s3_events.sink", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("zeroshop", "rabbitmq"))
    parser.add_argument("name")
    parser.add_argument("db", type=Path)
    parser.add_argument("report", help="the benchmark's PULL endpoint")
    parser.add_argument("--rpc", help="zeroshop: the orders service's RPC endpoint")
    parser.add_argument("--events", help="zeroshop: the orders service's PUB endpoint")
    parser.add_argument("--amqp", help="rabbitmq: the broker's URL")
    parser.add_argument("--queue", help="rabbitmq: this consumer's queue")
    args = parser.parse_args(argv)
    ctx = new_context()
    reporter = Reporter(ctx, args.report, args.name)
    try:
        if args.kind == "zeroshop":
            run_zeroshop(args, reporter, ctx)
        else:
            run_rabbitmq(args, reporter)
    finally:
        reporter.close()
        ctx.term()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
