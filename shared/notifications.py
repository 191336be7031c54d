"""What the email and sms services share: the columns of their sent-notification table,
the recording sender, sending once per order and kind, and listing what was sent."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Insert, Select, String, Table, Text, bindparam, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.contracts.bus import Envelope
from shared.contracts.events import NotificationSent
from shared.contracts.notifications import ListSent, SentList, SentNotification
from shared.events import emit
from shared.events.outbox import now_iso

Kind = Literal["confirmation", "rejection"]


class SentColumns:
    """Mixed into each service's own table (sent_emails, sent_sms)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))  # confirmation | rejection
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str] = mapped_column(String(36))  # the provider's idempotency key
    sent_at: Mapped[str] = mapped_column(String(40))


class RecordingSender:
    """The local default sender of both services: appends each message (a dataclass) as
    one JSON line to a file under the data folder, and sends nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, message: Any) -> None:
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(dataclasses.asdict(message)) + "\n")


# Each table's two statements, built once, on the table rather than the mapped class: a
# notification is written once and never read back in the session, so ORM objects would only
# add a flush per event (about 40% of send_once's CPU, measured in process).
_STATEMENTS: dict[type[SentColumns], tuple[Select[Any], Insert]] = {}


def _statements(table: type[SentColumns]) -> tuple[Select[Any], Insert]:
    statements = _STATEMENTS.get(table)
    if statements is None:
        columns = cast(Table, table.__table__).c  # type: ignore[attr-defined]
        statements = _STATEMENTS[table] = (
            select(columns.id).where(columns.order_id == bindparam("order_id"),
                                     columns.kind == bindparam("kind")),
            insert(columns.id.table).returning(columns.id))
    return statements


def send_once(db: Session, table: type[SentColumns], channel: Literal["email", "sms"],
              envelope: Envelope, order_id: int, kind: Kind, to: str, subject: str, body: str,
              send: Callable[[], None]) -> None:
    """Record, send and announce one notification, unless this order already has one of
    this kind. The row, the offset and notification.sent commit together (the caller's
    transaction), so a redelivered event finds the row and sends nothing twice."""
    already, record = _statements(table)
    if db.execute(already, {"order_id": order_id, "kind": kind}).first() is not None:
        return
    notification_id = db.execute(record, {
        "order_id": order_id, "kind": kind, "recipient": to, "subject": subject, "body": body,
        "event_id": envelope.id, "sent_at": now_iso()}).scalar_one()
    send()
    emit(db, NotificationSent(order_id=order_id, channel=channel,
                              notification_id=notification_id, recipient=to, kind=kind))


def sent_list(db: Session, table: type[SentColumns], params: ListSent) -> SentList:
    """What was sent, newest first, optionally for one order."""
    query = select(table)
    if params.order_id is not None:
        query = query.where(table.order_id == params.order_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(table.id.desc()).limit(params.limit))
    return SentList(total=total, items=[
        SentNotification(id=r.id, order_id=r.order_id, kind=r.kind,  # type: ignore[arg-type]
                         recipient=r.recipient, subject=r.subject, body=r.body,
                         event_id=r.event_id, sent_at=r.sent_at) for r in rows])
