"""Idempotent consumer: applies each event once, moving its offset in the same transaction.

A handler that fails is retried; after `max_attempts` the event goes to the dead-letter
table (with its error) and the events behind it flow on. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import CursorResult, Table, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared import otel
from shared.contracts.bus import Envelope
from shared.db import unit_of_work
from shared.logs import tracing
from shared.messaging import Context
from shared.metrics import EVENTS_APPLIED, LabelledChildren

from .follow import Follower, Source
from .models import ConsumerOffset, DeadLetterRow, DeliveryFailure
from .outbox import EMITTED, PUBLISHES, TRACE, now_iso

log = logging.getLogger("zeroshop.consumer")
PASS_OVER_COMMIT_MS = 100  # events without a handler: their offset is written this late at most


@dataclass(frozen=True)
class Subscription:
    topic: str
    payload: type[Any]
    handler: Callable[..., None]
    names: tuple[str, ...]  # the handler's parameters after the event, given by name
    dependencies: Mapping[str, Any]

    def run(self, envelope: Envelope, db: Session) -> None:
        event = msgspec.json.decode(envelope.payload, type=self.payload)
        given = {"db": db, "envelope": envelope}
        self.handler(event, **{n: given[n] if n in given else self.dependencies[n]
                               for n in self.names})


class StaleOffset(Exception):
    """Another replica applied this event first."""


class _RunFailed(Exception):
    """A handler failed inside a run applied without savepoints; `position`: its index."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


class Consumer:
    def __init__(self, sessions: sessionmaker[Session], subscriptions: Mapping[str, Subscription],
                 publishes: tuple[str, ...], on_emit: Callable[[], None],
                 max_attempts: int = 3, retry_base_s: float = 0.5, poll_ms: int = 0,
                 crash_before_commit: bool = False,
                 on_commit: Callable[[], None] = lambda: None, service: str = "") -> None:
        self._sessions = sessions
        self._subscriptions = subscriptions
        self._publishes = publishes
        self._on_emit = on_emit
        self.max_attempts = max_attempts
        self._retry_base_s = retry_base_s
        self._poll_ms = poll_ms
        self._crash_before_commit = crash_before_commit
        self._on_commit = on_commit  # an event's effect is committed (the reply cache drops)
        # When a failed event may be tried again: a brief outage should not kill it.
        self._retry_at: dict[tuple[str, int], float] = {}
        self.service = service
        self.follower: Follower | None = None  # while running: its lag is a metric
        self._applied = LabelledChildren(EVENTS_APPLIED)  # (service, publisher, topic)
        # Events this service has no handler for change nothing, so they get no transaction
        # of their own: the offset passes over them in memory and is written with the next
        # event that has an effect, or within PASS_OVER_COMMIT_MS when none comes. A crash
        # before that only means they are fetched and passed over again.
        self._passed: dict[str, int] = {}  # publisher -> the last seq passed over, unwritten
        self._passed_due = 0.0  # monotonic time by which they are written

    def load_offsets(self, publishers: list[str]) -> dict[str, int]:
        with unit_of_work(self._sessions) as db:
            for publisher in publishers:
                if db.get(ConsumerOffset, publisher) is None:
                    db.add(ConsumerOffset(publisher=publisher, last_seq=0))
        with unit_of_work(self._sessions) as db:
            return {o.publisher: o.last_seq for o in db.scalars(select(ConsumerOffset))}

    def run(self, ctx: Context, sources: Mapping[str, Source], stopping: threading.Event) -> None:
        offsets = self.load_offsets(sorted(sources))
        follower = Follower(ctx, sources, offsets, self.apply, poll_ms=self._poll_ms,
                            apply_many=self.apply_many)
        self.follower = follower
        try:
            while not stopping.is_set():
                follower.step(PASS_OVER_COMMIT_MS if self._passed else 500)
                if self._passed and time.monotonic() >= self._passed_due:
                    self.write_passed_over()
        finally:
            follower.close()
            self.write_passed_over()

    def passed_over(self, publisher: str) -> int:
        """The last seq of `publisher` passed over and not yet written (0: none)."""
        return self._passed.get(publisher, 0)

    def write_passed_over(self) -> None:
        """Move the stored offsets past the events passed over (one transaction)."""
        if not self._passed:
            return
        passed, self._passed = self._passed, {}
        try:
            with unit_of_work(self._sessions) as db:
                for publisher, last in passed.items():
                    current = _locked_offset(db, publisher)
                    if current is not None and current < last:
                        _advance(db, publisher, current, last)
        except Exception:  # noqa: BLE001 - harmless: they are fetched and passed over again
            log.warning("could not store the offsets past %s; they follow with the next "
                        "event", passed, exc_info=True)
            for publisher, last in passed.items():
                self._passed.setdefault(publisher, last)

    def _offset(self, db: Session, publisher: str) -> tuple[int | None, int | None]:
        """(the stored offset, locked; the offset the next event follows: past the events
        passed over since, if any)."""
        stored = _locked_offset(db, publisher)
        passed = self._passed.get(publisher)
        if stored is None or passed is None or passed <= stored:
            return stored, stored
        return stored, passed

    def _pass_over(self, publisher: str, events: Sequence[Envelope]) -> None:
        if not self._passed:
            self._passed_due = time.monotonic() + PASS_OVER_COMMIT_MS / 1000
        self._passed[publisher] = events[-1].seq
        self._count(publisher, events)

    def apply_many(self, publisher: str, events: Sequence[Envelope]) -> int:
        """Apply consecutive events in one transaction with one offset move (group commit:
        one commit, one fsync, for all that arrived together); returns how many, from the
        first, are applied. A handler that fails counts one attempt (retried or
        dead-lettered as if it had come alone); the events before it commit, the events
        after it wait their turn. How the failed one is undone depends on its handlers:

        - handlers that only touch the database (no dependency such as a sender) run one
          after another in the transaction; if one fails, the whole run is rolled back,
          the events before it are applied again as a run, and the failed one runs again
          alone for its counted attempt (running a database-only handler again is safe;
          a savepoint each would cost about half of a simple consumer's CPU);
        - a run with a handler that reaches outside (email's and sms's senders) runs each
          handler in a savepoint instead, so nothing already sent is run again."""
        if all(e.topic not in self._subscriptions for e in events):
            self._pass_over(publisher, events)  # the follower hands over only what is next
            return len(events)
        if len(events) == 1 or any(self._backing_off(publisher, e) for e in events):
            return self._one_at_a_time(publisher, events)
        failure: tuple[Envelope, Exception] | None = None
        run: list[Envelope] = []
        done = 0
        try:
            with unit_of_work(self._sessions) as db:
                stored, current = self._offset(db, publisher)
                run = [e for e in events if current is None or e.seq > current]
                done = len(events) - len(run)  # duplicates: applied before
                if not run or run[0].seq != (current or 0) + 1:
                    return done  # nothing new, or not next: the follower fetches first
                if self._database_only(run):
                    for applied, event in enumerate(run):
                        try:
                            self._run_handler(event, db)
                        except Exception as exc:
                            raise _RunFailed(applied) from exc  # rolls the whole run back
                    applied = len(run)
                else:
                    applied = 0
                    for event in run:
                        try:
                            with db.begin_nested():
                                self._run_handler(event, db)
                        except Exception as exc:  # noqa: BLE001 - counted as its attempt below
                            failure = (event, exc)
                            break
                        applied += 1
                if applied:
                    _advance(db, publisher, stored or 0, run[applied - 1].seq)
                    self._fault_before_commit(db)
            if applied:
                self._passed.pop(publisher, None)
                self._committed(db, publisher, run[:applied])
        except _RunFailed as failed:  # nothing of the run was kept
            before = run[:failed.position]
            kept = self.apply_many(publisher, before) if before else 0
            if kept < len(before):
                return done + kept
            return done + kept + (1 if self.apply(publisher, run[failed.position]) else 0)
        except Exception:  # noqa: BLE001 - the database, or another replica moved on
            log.debug("a run of %d events from %s is applied one by one", len(events),
                      publisher, exc_info=True)
            return self._one_at_a_time(publisher, events)
        done += applied
        if failure is not None and self._record_failure(publisher, *failure):
            done += 1
        return done

    def _database_only(self, run: Sequence[Envelope]) -> bool:
        """True if every handler of the run takes nothing but the event, `db` and `envelope`."""
        for event in run:
            subscription = self._subscriptions.get(event.topic)
            if subscription is not None and any(n not in ("db", "envelope")
                                                for n in subscription.names):
                return False
        return True

    def _one_at_a_time(self, publisher: str, events: Sequence[Envelope]) -> int:
        for applied, event in enumerate(events):
            if not self.apply(publisher, event):
                return applied
        return len(events)

    def _backing_off(self, publisher: str, event: Envelope) -> bool:
        return time.monotonic() < self._retry_at.get((publisher, event.seq), 0.0)

    def apply(self, publisher: str, event: Envelope) -> bool:
        """Apply one event exactly once; True if the offset is now at or past it."""
        if self._backing_off(publisher, event):
            return False  # backing off; the events behind it wait (order is kept)
        try:
            with unit_of_work(self._sessions) as db:
                stored, current = self._offset(db, publisher)
                if current is not None and current >= event.seq:
                    return True  # a duplicate: applied before
                if current != event.seq - 1:
                    return False  # not next: the follower fetches what is missing first
                self._run_handler(event, db)
                _advance(db, publisher, stored or 0, event.seq)
                self._fault_before_commit(db)
            self._passed.pop(publisher, None)
            self._committed(db, publisher, (event,))
            return True
        except StaleOffset:
            return True
        except Exception as exc:  # noqa: BLE001 - any handler failure counts as an attempt
            return self._record_failure(publisher, event, exc)

    def _record_failure(self, publisher: str, event: Envelope, exc: Exception) -> bool:
        try:
            with tracing(event.trace):
                return self._failed(publisher, event, exc)
        except Exception:  # the database itself is away: retry the event later
            log.exception("cannot record the failure of %s #%d", publisher, event.seq)
            return False

    def _fault_before_commit(self, db: Session) -> None:
        if self._crash_before_commit:
            db.flush()
            os._exit(87)  # fault injection: effect and offset written, not committed

    def lag(self) -> dict[str, int]:
        return self.follower.lag() if self.follower is not None else {}

    def _committed(self, db: Session, publisher: str, events: Sequence[Envelope]) -> None:
        self._count(publisher, events)
        self._on_commit()
        if db.info.get(EMITTED):
            self._on_emit()

    def _count(self, publisher: str, events: Sequence[Envelope]) -> None:
        for event in events:
            self._applied(self.service, publisher, event.topic).inc()

    def _run_handler(self, event: Envelope, db: Session) -> None:
        db.info[PUBLISHES] = self._publishes
        db.info[TRACE] = event.trace
        subscription = self._subscriptions.get(event.topic)
        if subscription is not None:
            with tracing(event.trace):  # its log lines carry the trace of the request behind it
                if otel.tracer is None:
                    subscription.run(event, db)
                else:  # a consumer span, child of the span that emitted the event
                    with otel.span(f"{self.service} {event.topic}", "consumer",
                                   event.traceparent, {"messaging.system": "zeromq",
                                                       "messaging.destination.name": event.topic,
                                                       "zeroshop.event": f"{event.publisher}#"
                                                                         f"{event.seq}"}):
                        subscription.run(event, db)
                log.info("handled %s#%d (%s)", event.publisher, event.seq, event.topic)

    def _failed(self, publisher: str, event: Envelope, exc: Exception) -> bool:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with unit_of_work(self._sessions) as db:
            failure = db.get(DeliveryFailure, (publisher, event.seq))
            attempts = (failure.attempts if failure else 0) + 1
            if attempts < self.max_attempts:
                if failure is None:
                    db.add(DeliveryFailure(publisher=publisher, seq=event.seq,
                                           attempts=attempts, last_error=error))
                else:
                    failure.attempts, failure.last_error = attempts, error
                delay = min(self._retry_base_s * 2 ** (attempts - 1), 30.0)
                self._retry_at[(publisher, event.seq)] = time.monotonic() + delay
                log.warning("%s #%d (%s) failed, attempt %d of %d: %s", publisher, event.seq,
                            event.topic, attempts, self.max_attempts, error)
                return False
            if failure is not None:
                db.delete(failure)
            stored, _ = self._offset(db, publisher)
            db.add(DeadLetterRow(
                publisher=publisher, seq=event.seq, event_id=event.id, topic=event.topic,
                version=event.version, payload=bytes(event.payload).decode(),
                occurred_at=event.occurred_at, trace=event.trace, attempts=attempts,
                error=error, failed_at=now_iso()))
            _advance(db, publisher, stored if stored is not None else event.seq - 1, event.seq)
        self._passed.pop(publisher, None)
        self._retry_at.pop((publisher, event.seq), None)
        log.error("%s #%d (%s) moved to dead letters after %d attempts: %s", publisher,
                  event.seq, event.topic, attempts, error)
        return True

    def replay(self, db: Session, row: DeadLetterRow) -> str | None:
        """Run a dead letter's handler again inside `db`; returns the error, or None."""
        event = Envelope(publisher=row.publisher, seq=row.seq, id=row.event_id, topic=row.topic,
                         version=row.version, occurred_at=row.occurred_at,
                         payload=msgspec.Raw(row.payload.encode()), trace=row.trace)
        try:
            with db.begin_nested():
                self._run_handler(event, db)
        except Exception as exc:  # noqa: BLE001 - reported back to the operator
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
            return row.error
        row.replayed_at = now_iso()
        return None


# Both run in every consumer transaction: built once, on the table rather than the mapped
# class (an ORM-enabled statement costs about 0.4 ms of CPU more per transaction, and no
# offset object is loaded in these sessions for it to synchronise).
_OFFSETS = cast(Table, ConsumerOffset.__table__)
_LOCKED_OFFSET = (select(_OFFSETS.c.last_seq)
                  .where(_OFFSETS.c.publisher == bindparam("publisher")).with_for_update())
_ADVANCE = (update(_OFFSETS)
            .where(_OFFSETS.c.publisher == bindparam("from_publisher"),
                   _OFFSETS.c.last_seq == bindparam("previous"))
            .values(last_seq=bindparam("new_last")))


def _locked_offset(db: Session, publisher: str) -> int | None:
    # Locked (PostgreSQL): a second replica waits here, then sees a duplicate.
    return db.execute(_LOCKED_OFFSET, {"publisher": publisher}).scalar()


def _advance(db: Session, publisher: str, previous: int, last: int) -> None:
    # Guarded: moves only from `previous` (the offset read, locked, in this transaction), so
    # two replicas never both apply one event.
    result = db.execute(_ADVANCE, {"from_publisher": publisher, "previous": previous,
                                   "new_last": last})
    moved = cast(CursorResult[Any], result).rowcount  # what an UPDATE returns at runtime
    if moved != 1:
        raise StaleOffset(f"{publisher} offset is no longer {previous}")
