"""sms's tables: every SMS sent, one per order and kind."""

from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import DeclarativeBase

from shared.notifications import SentColumns


class Base(DeclarativeBase):
    pass


class SentSms(SentColumns, Base):
    __tablename__ = "sent_sms"
    # The database, too, refuses a second SMS of one kind for one order.
    __table_args__ = (UniqueConstraint("order_id", "kind", name="one_sms_per_order_kind"),)
