"""The relay: publishes committed outbox rows in sequence order, plus a heartbeat.

Runs in its own thread with its own PUB socket. It wakes when a transaction emitted
events (or once a heartbeat interval); after a crash it starts with the first row
that was never marked published, so an event committed just before the crash still goes
out. Marking is a write transaction (a commit, an fsync on SQLite), so under load the rows
published meanwhile are marked together, at most every MARK_EVERY_S, and at once when the
relay goes idle: a crash in between sends those events again, and every follower skips a
sequence number it has applied as a duplicate.
"""

from __future__ import annotations

import logging
import threading
import time

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.contracts.events import HEARTBEAT
from shared.db import unit_of_work
from shared.messaging import Publisher
from shared.metrics import EVENTS_PUBLISHED, LabelledChildren

from .models import OutboxRow
from .outbox import envelope, last_seq, now_iso, rows_after

log = logging.getLogger("zeroshop.relay")
BATCH = 500
MARK_EVERY_S = 0.1  # under load: one marking commit per this interval, not per pass


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
        self._published = LabelledChildren(EVENTS_PUBLISHED)  # (publisher, topic) -> counter
        self._unmarked: tuple[int, int] | None = None  # seqs sent, not yet marked published
        self._mark_due = 0.0  # monotonic time by which the unmarked rows are marked
        self._sent_up_to = 0  # the highest seq sent by this relay (a resend is not counted)

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
        idle = True
        while not stopping.is_set():
            try:
                cursor = self._pass(cursor)
                if idle or time.monotonic() >= self._mark_due:
                    self._mark_published()
            except Exception:  # the database may be briefly away; try again next beat
                log.exception("relay pass failed; retrying")
            idle = not self._wake.wait(self._heartbeat_s)  # no commit for a heartbeat
            self._wake.clear()
        try:
            self._mark_published()
        except Exception:  # a restart sends these again; followers skip the duplicates
            log.exception("could not mark the last published events")

    def _mark_published(self) -> None:
        """One write transaction for every row sent since the last mark."""
        if self._unmarked is None:
            return
        first, last = self._unmarked
        with unit_of_work(self._sessions) as db:
            db.execute(update(OutboxRow).where(OutboxRow.seq.between(first, last),
                                               OutboxRow.published_at.is_(None))
                       .values(published_at=now_iso()))
        self._unmarked = None

    def _sent(self, first: int, last: int) -> None:
        if self._unmarked is None:
            self._unmarked = (first, last)
            self._mark_due = time.monotonic() + MARK_EVERY_S
        else:
            self._unmarked = (min(first, self._unmarked[0]), max(last, self._unmarked[1]))

    def _pass(self, cursor: int) -> int:
        with self._lock:
            if self._resend_after is not None:
                cursor, self._resend_after = min(cursor, self._resend_after), None
        while True:
            with unit_of_work(self._sessions, read_only=True) as db:  # no write lock
                rows = rows_after(db, cursor, BATCH)
                for row in rows:
                    self._pub.send(row.topic, msgspec.json.encode(envelope(row, self.publisher)))
                    if row.published_at is None and row.seq > self._sent_up_to:  # not a resend
                        self._published(self.publisher, row.topic).inc()
                if rows:
                    self._sent(rows[0].seq, rows[-1].seq)
                    self._sent_up_to = max(self._sent_up_to, rows[-1].seq)
                    cursor = rows[-1].seq
            if len(rows) < BATCH:
                break
        # Every row committed when the last read began is sent now, and the counter moves in
        # the rows' own transactions, so the cursor is the latest sequence number.
        self._pub.send(HEARTBEAT, msgspec.json.encode(Heartbeat(self.publisher, cursor)))
        return cursor
