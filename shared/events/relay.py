"""The relay: publishes committed outbox rows in sequence order, plus a heartbeat.

Runs in its own thread with its own PUB socket. It wakes when a transaction emitted
events (or once a heartbeat interval); after a crash it starts with the first row
that was never published, so an event committed just before the crash still goes out.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.contracts.events import HEARTBEAT
from shared.db import unit_of_work
from shared.messaging import Publisher
from shared.metrics import EVENTS_PUBLISHED

from .models import OutboxRow
from .outbox import envelope, last_seq, now_iso

log = logging.getLogger("zeroshop.relay")
BATCH = 500


class Heartbeat(msgspec.Struct, frozen=True):
    publisher: str
    seq: int


class Relay:
    def __init__(self, publisher: str, sessions: sessionmaker[Session], pub: Publisher,
                 heartbeat_s: float = 1.0) -> None:
        self.publisher = publisher
        self._sessions = sessions
        self._pub = pub
        self._heartbeat_s = heartbeat_s
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._resend_after: int | None = None
        self._counters: dict[str, Any] = {}  # topic -> its events-published counter

    def _published(self, topic: str) -> Any:
        counter = self._counters.get(topic)
        if counter is None:
            counter = self._counters[topic] = EVENTS_PUBLISHED.labels(self.publisher, topic)
        return counter

    def wake(self) -> None:
        """Called after a commit that emitted events."""
        self._wake.set()

    def republish(self, after: int) -> int:
        """Send everything after `after` again on the next pass; returns the newest seq."""
        with self._lock:
            self._resend_after = after
        self._wake.set()
        with unit_of_work(self._sessions) as db:
            return last_seq(db)

    def run(self, stopping: threading.Event) -> None:
        with unit_of_work(self._sessions) as db:
            cursor = db.scalar(select(func.max(OutboxRow.seq))
                               .where(OutboxRow.published_at.is_not(None))) or 0
        while not stopping.is_set():
            try:
                cursor = self._pass(cursor)
            except Exception:  # the database may be briefly away; try again next beat
                log.exception("relay pass failed; retrying")
            self._wake.wait(self._heartbeat_s)
            self._wake.clear()

    def _pass(self, cursor: int) -> int:
        with self._lock:
            if self._resend_after is not None:
                cursor, self._resend_after = min(cursor, self._resend_after), None
        while True:
            with unit_of_work(self._sessions) as db:
                rows = db.scalars(select(OutboxRow).where(OutboxRow.seq > cursor)
                                  .order_by(OutboxRow.seq).limit(BATCH)).all()
                for row in rows:
                    self._pub.send(row.topic, msgspec.json.encode(envelope(row, self.publisher)))
                    if row.published_at is None:  # a first send, not a republish
                        self._published(row.topic).inc()
                if rows:
                    db.execute(update(OutboxRow).where(OutboxRow.seq.between(rows[0].seq,
                                                                             rows[-1].seq),
                                                       OutboxRow.published_at.is_(None))
                               .values(published_at=now_iso()))
                    cursor = rows[-1].seq
                latest = last_seq(db)
            if len(rows) < BATCH:
                break
        self._pub.send(HEARTBEAT, msgspec.json.encode(Heartbeat(self.publisher, latest)))
        return cursor
