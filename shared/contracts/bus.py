"""Built-in methods of the event bus, added to every publisher's and consumer's contract.

Publishers answer `fetch_events` (the Clone pattern's catch-up: "events after N") and
`republish`; consumers answer `offsets`, `dead_letters` and `replay_dead_letter`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .base import Method, Params, Record

Seq = Annotated[int, msgspec.Meta(ge=0)]


class Envelope(Record):
    """One event as stored in the outbox and sent on the wire."""

    publisher: str
    seq: int  # per publisher, gap-free, starting at 1
    id: str  # UUID, unique across publishers
    topic: str
    version: int
    occurred_at: str  # ISO 8601, UTC
    payload: msgspec.Raw  # decoded by the consumer into the topic's payload type
    trace: str | None = None


class FetchEvents(Params):
    after: Seq
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 200


class EventBatch(Record):
    publisher: str
    events: list[Envelope]
    last_seq: int  # the newest committed sequence number, for catching up


class Republish(Params):
    after: Seq = 0


class Republished(Record):
    publisher: str
    after: int
    last_seq: int


class Offset(Record):
    publisher: str
    last_seq: int


class OffsetList(Record):
    items: list[Offset]


class DeadLetter(Record):
    id: int
    publisher: str
    seq: int
    event_id: str
    topic: str
    attempts: int
    error: str
    failed_at: str
    replayed_at: str | None = None


class ListDeadLetters(Params):
    include_replayed: bool = False


class DeadLetterList(Record):
    items: list[DeadLetter]


class ReplayDeadLetter(Params):
    id: Annotated[int, msgspec.Meta(ge=1)]


class ReplayResult(Record):
    id: int
    replayed: bool
    error: str | None = None


class NoArgs(Params):
    pass


PUBLISHER_METHODS = (
    Method("fetch_events", FetchEvents, EventBatch,
           "Events after sequence `after`, oldest first (catch-up and replay).",
           FetchEvents(after=0, limit=10)),
    Method("republish", Republish, Republished,
           "Send every event after `after` on PUB again (consumers skip what they applied).",
           Republish(after=0)),
)
CONSUMER_METHODS = (
    Method("offsets", NoArgs, OffsetList, "The last applied sequence per publisher.", NoArgs()),
    Method("dead_letters", ListDeadLetters, DeadLetterList,
           "Events whose handler kept failing, with the error.", ListDeadLetters()),
    Method("replay_dead_letter", ReplayDeadLetter, ReplayResult,
           "Run a dead letter's handler again; marks it replayed on success.",
           ReplayDeadLetter(id=1), ("not_found",)),
)
