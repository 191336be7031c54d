"""Group commit in a consumer, in process: inventory's real handler applying order.placed
events one transaction each, against runs of 100 in one transaction (what a consumer does
with the events that arrived together), on a fresh database per arm and round, arms
interleaved. SQLite (a file, fsync per commit) by default; `--url` for PostgreSQL.

    .venv/bin/python -m bench.s3_events.group_commit --events 400 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid

import msgspec
from sqlalchemy.orm import sessionmaker

from services.inventory.models import Base
from services.inventory.service import seed, svc
from shared.contracts.bus import Envelope
from shared.contracts.events import Customer, OrderLine, OrderPlaced
from shared.db import make_engine, unit_of_work
from shared.events.consumer import Consumer
from shared.events.models import EventsBase
from shared.events.outbox import ensure_counter

from ..common import progress

CUSTOMER = Customer(name="Ada", email="ada@example.com", phone="+44 20 7946 0000")


def _placed(seq: int) -> Envelope:
    line = OrderLine(product_id=seq % 5 + 1, name="x", quantity=1, unit_price=100,
                     final_unit_price=100)
    event = OrderPlaced(order_id=seq, customer=CUSTOMER, lines=[line], total=100,
                        currency="USD")
    return Envelope(publisher="orders", seq=seq, id=str(uuid.uuid4()), topic="order.placed",
                    version=1, occurred_at="2026-01-01T00:00:00+00:00",
                    payload=msgspec.Raw(msgspec.json.encode(event)))


def _arm(url: str, events: int, run: int) -> float:
    engine = make_engine(url)
    for metadata in (Base.metadata, EventsBase.metadata):
        metadata.drop_all(engine)
        metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with unit_of_work(sessions) as db:
        seed(db)
        ensure_counter(db)
    consumer = Consumer(sessions, svc.subscriptions, svc.contract.publishes, lambda: None)
    consumer.load_offsets(["orders"])
    batch = [_placed(seq) for seq in range(1, events + 1)]
    started = time.perf_counter()
    for first in range(0, events, run):
        assert consumer.apply_many("orders", batch[first:first + run]) == len(
            batch[first:first + run])
    rate = events / (time.perf_counter() - started)
    for metadata in (Base.metadata, EventsBase.metadata):
        metadata.drop_all(engine)
    engine.dispose()
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.s3_events.group_commit",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="a database URL (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    arms = {"one event per transaction": 1, "runs of 100 per transaction": 100}
    rates: dict[str, list[float]] = {name: [] for name in arms}
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.rounds):
            progress(f"round {number + 1} of {args.rounds}")
            for name in (list(arms) if number % 2 == 0 else list(reversed(arms))):
                url = args.url or f"sqlite:///{folder}/{number}-{arms[name]}.db"
                rates[name].append(_arm(url, args.events, arms[name]))
    for name, values in rates.items():
        print(f"{name}: {statistics.median(values):,.0f} events/s "
              f"(min {min(values):,.0f}, max {max(values):,.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
