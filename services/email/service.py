"""email: sends one email per order outcome and lists what it sent (list_sent).

Consumes order.confirmed and order.rejected; publishes notification.sent. The email row,
the consumer offset and the notification.sent event commit together, so a redelivered
event finds the row and sends nothing twice.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.contracts.bus import Envelope
from shared.contracts.events import OrderConfirmed, OrderRejected
from shared.contracts.notifications import ListSent, SentList
from shared.money import format_money
from shared.notifications import Kind, send_once, sent_list
from shared.runtime import Service

from .models import SentEmail
from .senders import Email, EmailSender

svc = Service("email")


def _send(db: Session, sender: EmailSender, envelope: Envelope, order_id: int, kind: Kind,
          to: str, subject: str, body: str) -> None:
    email = Email(to=to, subject=subject, body=body, idempotency_key=envelope.id)
    send_once(db, SentEmail, "email", envelope, order_id, kind, to, subject, body,
              lambda: sender.send(email))


@svc.on(OrderConfirmed)
def send_confirmation(event: OrderConfirmed, db: Session, envelope: Envelope,
                      sender: EmailSender) -> None:
    """Email the customer that the order is confirmed."""
    lines = "\n".join(f"  {line.quantity} x {line.name}" for line in event.lines)
    body = (f"Hello {event.customer.name},\n\nyour order {event.order_id} is confirmed:\n"
            f"{lines}\nTotal: {format_money(event.total, event.currency)}\n\nZeroShop")
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
    return sent_list(db, SentEmail, params)
