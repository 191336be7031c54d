"""email's tables: every email sent, one per order and kind."""

from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import DeclarativeBase

from shared.notifications import SentColumns


class Base(DeclarativeBase):
    pass


class SentEmail(SentColumns, Base):
    __tablename__ = "sent_emails"
    # The database, too, refuses a second email of one kind for one order.
    __table_args__ = (UniqueConstraint("order_id", "kind", name="one_email_per_order_kind"),)
