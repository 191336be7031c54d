"""sms: sends one SMS per order outcome and lists what it sent (list_sent).

Consumes order.confirmed and order.rejected; publishes notification.sent. The SMS row,
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

from .models import SentSms
from .senders import Sms, SmsSender

svc = Service("sms")


def _send(db: Session, sender: SmsSender, envelope: Envelope, order_id: int, kind: Kind,
          to: str, body: str) -> None:
    sms = Sms(to=to, body=body, idempotency_key=envelope.id)
    send_once(db, SentSms, "sms", envelope, order_id, kind, to, "", body,
              lambda: sender.send(sms))


@svc.on(OrderConfirmed)
def send_confirmation(event: OrderConfirmed, db: Session, envelope: Envelope,
                      sender: SmsSender) -> None:
    """Text the customer that the order is confirmed."""
    _send(db, sender, envelope, event.order_id, "confirmation", event.customer.phone,
          f"ZeroShop: order {event.order_id} confirmed, total "
          f"{format_money(event.total, event.currency)}.")


@svc.on(OrderRejected)
def send_rejection(event: OrderRejected, db: Session, envelope: Envelope,
                   sender: SmsSender) -> None:
    """Text the customer that the order could not be fulfilled."""
    _send(db, sender, envelope, event.order_id, "rejection", event.customer.phone,
          f"ZeroShop: sorry, order {event.order_id} could not be fulfilled (out of stock).")


@svc.rpc
def list_sent(params: ListSent, db: Session) -> SentList:
    """SMS sent, newest first (for tests and operators)."""
    return sent_list(db, SentSms, params)
