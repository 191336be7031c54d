"""The event tables every publishing or consuming service keeps in its own database."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class EventsBase(DeclarativeBase):
    pass


class OutboxRow(EventsBase):
    """Transactional outbox: written in the same transaction as the state change."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    payload: Mapped[str] = mapped_column(Text)  # JSON
    occurred_at: Mapped[str] = mapped_column(String(40))
    trace: Mapped[str | None] = mapped_column(String(64))
    traceparent: Mapped[str | None] = mapped_column(String(55))  # OpenTelemetry's, when on
    published_at: Mapped[str | None] = mapped_column(String(40), index=True)


class OutboxCounter(EventsBase):
    """One row: the last sequence number handed out. Its row lock makes sequence numbers
    gap-free and in commit order (a sequence or autoincrement would allow both to break)."""

    __tablename__ = "outbox_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]


class ConsumerOffset(EventsBase):
    """Idempotent consumer: the last sequence applied per publisher, moved with the effect."""

    __tablename__ = "consumer_offsets"

    publisher: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_seq: Mapped[int]


class DeliveryFailure(EventsBase):
    """How often an event's handler failed so far (survives restarts)."""

    __tablename__ = "delivery_failures"

    publisher: Mapped[str] = mapped_column(String(50), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    attempts: Mapped[int]
    last_error: Mapped[str] = mapped_column(Text)


class DeadLetterRow(EventsBase):
    """An event whose handler kept failing: kept with its error, replayable, never dropped."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    publisher: Mapped[str] = mapped_column(String(50))
    seq: Mapped[int]
    event_id: Mapped[str] = mapped_column(String(36))
    topic: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    payload: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[str] = mapped_column(String(40))
    trace: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int]
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[str] = mapped_column(String(40))
    replayed_at: Mapped[str | None] = mapped_column(String(40))
