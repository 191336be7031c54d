"""sms: sends one SMS per order outcome and lists what it sent (list_sent).

Consumes order.confirmed and order.rejected; publishes notification.sent. The SMS row,
the consumer offset and the notification.sent event commit together, so a redelivered
event finds the row and sends nothing twice.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.contracts.bus import Envelope
from shared.contracts.events import NotificationSent, OrderConfirmed, OrderRejected
from shared.contracts.notifications import ListSent, SentList, SentNotification
from shared.events import emit
from shared.events.outbox import now_iso
from shared.runtime import Service

from .models import SentSms
from .senders import Sms, SmsSender

svc = Service("sms")


def _send(db: Session, sender: SmsSender, envelope: Envelope, order_id: int, kind: str,
          to: str, body: str) -> None:
    sent = db.scalar(select(SentSms).where(SentSms.order_id == order_id, SentSms.kind == kind))
    if sent is not None:
        return  # already sent for this order: never twice
    row = SentSms(order_id=order_id, kind=kind, recipient=to, subject="", body=body,
                  event_id=envelope.id, sent_at=now_iso())
    db.add(row)
    db.flush()
    sender.send(Sms(to=to, body=body, idempotency_key=envelope.id))
    emit(db, NotificationSent(order_id=order_id, channel="sms", notification_id=row.id,
                              recipient=to, kind=kind))  # type: ignore[arg-type]


@svc.on(OrderConfirmed)
def send_confirmation(event: OrderConfirmed, db: Session, envelope: Envelope,
                      sender: SmsSender) -> None:
    """Text the customer that the order is confirmed."""
    _send(db, sender, envelope, event.order_id, "confirmation", event.customer.phone,
          f"ZeroShop: order {event.order_id} confirmed, total "
          f"{event.total / 100:.2f} {event.currency}.")


@svc.on(OrderRejected)
def send_rejection(event: OrderRejected, db: Session, envelope: Envelope,
                   sender: SmsSender) -> None:
    """Text the customer that the order could not be fulfilled."""
    _send(db, sender, envelope, event.order_id, "rejection", event.customer.phone,
          f"ZeroShop: sorry, order {event.order_id} could not be fulfilled (out of stock).")


@svc.rpc
def list_sent(params: ListSent, db: Session) -> SentList:
    """SMS sent, newest first (for tests and operators)."""
    query = select(SentSms)
    if params.order_id is not None:
        query = query.where(SentSms.order_id == params.order_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(SentSms.id.desc()).limit(params.limit))
    return SentList(total=total, items=[
        SentNotification(id=r.id, order_id=r.order_id, kind=r.kind,  # type: ignore[arg-type]
                         recipient=r.recipient, subject=r.subject, body=r.body,
                         event_id=r.event_id, sent_at=r.sent_at) for r in rows])
