"""email: sends one email per order outcome and lists what it sent (list_sent).

Consumes order.confirmed and order.rejected; publishes notification.sent. The email row,
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

from .models import SentEmail
from .senders import Email, EmailSender

svc = Service("email")


def _send(db: Session, sender: EmailSender, envelope: Envelope, order_id: int, kind: str,
          to: str, subject: str, body: str) -> None:
    sent = db.scalar(select(SentEmail).where(SentEmail.order_id == order_id,
                                             SentEmail.kind == kind))
    if sent is not None:
        return  # already sent for this order: never twice
    row = SentEmail(order_id=order_id, kind=kind, recipient=to, subject=subject, body=body,
                    event_id=envelope.id, sent_at=now_iso())
    db.add(row)
    db.flush()
    sender.send(Email(to=to, subject=subject, body=body, idempotency_key=envelope.id))
    emit(db, NotificationSent(order_id=order_id, channel="email", notification_id=row.id,
                              recipient=to, kind=kind))  # type: ignore[arg-type]


@svc.on(OrderConfirmed)
def send_confirmation(event: OrderConfirmed, db: Session, envelope: Envelope,
                      sender: EmailSender) -> None:
    """Email the customer that the order is confirmed."""
    lines = "\n".join(f"  {line.quantity} x {line.name}" for line in event.lines)
    body = (f"Hello {event.customer.name},\n\nyour order {event.order_id} is confirmed:\n"
            f"{lines}\nTotal: {event.total / 100:.2f} {event.currency}\n\nZeroShop")
    _send(db, sender, envelope, event.order_id, "confirmation", event.customer.email,
          f"Order {event.order_id} confirmed", body)


@svc.on(OrderRejected)
def send_rejection(event: OrderRejected, db: Session, envelope: Envelope,
                   sender: EmailSender) -> None:
    """Email the customer that the order could not be fulfilled."""
    body = (f"Hello {event.customer.name},\n\nsorry: we could not fulfil order "
            f"{event.order_id} ({event.reason}). Nothing was charged.\n\nZeroShop")
    _send(db, sender, envelope, event.order_id, "rejection", event.customer.email,
          f"Order {event.order_id} could not be fulfilled", body)


@svc.rpc
def list_sent(params: ListSent, db: Session) -> SentList:
    """Emails sent, newest first (for tests and operators)."""
    query = select(SentEmail)
    if params.order_id is not None:
        query = query.where(SentEmail.order_id == params.order_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(SentEmail.id.desc()).limit(params.limit))
    return SentList(total=total, items=[
        SentNotification(id=r.id, order_id=r.order_id, kind=r.kind,  # type: ignore[arg-type]
                         recipient=r.recipient, subject=r.subject, body=r.body,
                         event_id=r.event_id, sent_at=r.sent_at) for r in rows])
