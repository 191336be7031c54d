"""sms's tables: every SMS sent, one per order and kind."""

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class SentSms(Base):
    __tablename__ = "sent_sms"
    # The database, too, refuses a second SMS of one kind for one order.
    __table_args__ = (UniqueConstraint("order_id", "kind", name="one_sms_per_order_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))  # confirmation | rejection
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str] = mapped_column(String(36))
    sent_at: Mapped[str] = mapped_column(String(40))
