"""Built-in methods of the event bus, added to every publisher's and consumer's contract.

Publishers answer `fetch_events` (the Clone pattern's catch-up: "events after N") and
`republish`; consumers answer `offsets`, `dead_letters` and `replay_dead_letter`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .base import Method, Params, Record

Seq = Annotated[int, msgspec.Meta(ge=0)]


def _about(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class Envelope(Record):
    """One event as stored in the outbox and sent on the wire (PUB and fetch_events).

    docs/CONTRACTS.md describes it from these descriptions (`make contracts-docs`)."""

    publisher: Annotated[str, _about("The service that published it")]
    seq: Annotated[int, _about("Per publisher, from 1, without gaps: a gap means events to "
                               "fetch")]
    id: Annotated[str, _about("UUID, unique across publishers; the idempotency key of the "
                              "notifications it causes")]
    topic: Annotated[str, _about("What happened, e.g. `order.placed`")]
    version: Annotated[int, _about("The version of the topic's payload schema")]
    occurred_at: Annotated[str, _about("ISO 8601, UTC: when the publisher's handler emitted it")]
    payload: Annotated[msgspec.Raw, _about("The topic's payload (see each topic below), decoded "
                                           "by the consumer")]
    trace: Annotated[str | None, _about("The trace id of the request that led to it")] = None
    traceparent: Annotated[str | None, _about(
        "W3C trace context of the OpenTelemetry span that emitted it (null when tracing is "
        "off)")] = None


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
           Republish(after=0), callers=("cli",)),
)
CONSUMER_METHODS = (
    Method("offsets", NoArgs, OffsetList, "The last applied sequence per publisher.", NoArgs()),
    Method("dead_letters", ListDeadLetters, DeadLetterList,
           "Events whose handler kept failing, with the error.", ListDeadLetters()),
    Method("replay_dead_letter", ReplayDeadLetter, ReplayResult,
           "Run a dead letter's handler again; marks it replayed on success.",
           ReplayDeadLetter(id=1), ("not_found",), callers=("cli",)),
)
