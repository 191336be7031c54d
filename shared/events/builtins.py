"""Handlers of the bus's built-in RPC methods (fetch_events, republish, offsets,
dead_letters, replay_dead_letter), bound to one running service's relay and consumer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.contracts.bus import (
    DeadLetter,
    DeadLetterList,
    EventBatch,
    FetchEvents,
    ListDeadLetters,
    NoArgs,
    Offset,
    OffsetList,
    ReplayDeadLetter,
    ReplayResult,
    Republish,
    Republished,
)
from shared.errors import NotFound

from .consumer import Consumer
from .models import ConsumerOffset, DeadLetterRow
from .outbox import events_after, last_seq
from .relay import Relay


def publisher_handlers(relay: Relay) -> dict[str, Callable[[Any, Session], Any]]:
    def fetch_events(params: FetchEvents, db: Session) -> EventBatch:
        return EventBatch(publisher=relay.publisher, last_seq=last_seq(db),
                          events=events_after(db, relay.publisher, params.after, params.limit))

    def republish(params: Republish, db: Session) -> Republished:
        return Republished(publisher=relay.publisher, after=params.after,
                           last_seq=relay.republish(params.after))

    return {"fetch_events": fetch_events, "republish": republish}


def _dead_letter(row: DeadLetterRow) -> DeadLetter:
    return DeadLetter(id=row.id, publisher=row.publisher, seq=row.seq, event_id=row.event_id,
                      topic=row.topic,
                      attempts=row.attempts, error=row.error, failed_at=row.failed_at,
                      replayed_at=row.replayed_at)


def consumer_handlers(consumer: Consumer) -> dict[str, Callable[[Any, Session], Any]]:
    def offsets(params: NoArgs, db: Session) -> OffsetList:
        rows = db.scalars(select(ConsumerOffset).order_by(ConsumerOffset.publisher))
        # Events without a handler are passed over in memory before their offset is stored.
        return OffsetList(items=[Offset(publisher=r.publisher,
                                        last_seq=max(r.last_seq, consumer.passed_over(r.publisher)))
                                 for r in rows])

    def dead_letters(params: ListDeadLetters, db: Session) -> DeadLetterList:
        query = select(DeadLetterRow).order_by(DeadLetterRow.id)
        if not params.include_replayed:
            query = query.where(DeadLetterRow.replayed_at.is_(None))
        return DeadLetterList(items=[_dead_letter(r) for r in db.scalars(query)])

    def replay_dead_letter(params: ReplayDeadLetter, db: Session) -> ReplayResult:
        row = db.get(DeadLetterRow, params.id)
        if row is None:
            raise NotFound(f"there is no dead letter {params.id}")
        if row.replayed_at is not None:
            return ReplayResult(id=row.id, replayed=True)
        error = consumer.replay(db, row)
        return ReplayResult(id=row.id, replayed=error is None, error=error)

    return {"offsets": offsets, "dead_letters": dead_letters,
            "replay_dead_letter": replay_dead_letter}
