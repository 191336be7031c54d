"""orders' tables: orders, their lines and their timeline."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class OrderRow(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    customer_name: Mapped[str] = mapped_column(String(100))
    customer_email: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str] = mapped_column(String(30))
    total: Mapped[int]  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    lines: Mapped[list["OrderLineRow"]] = relationship(order_by="OrderLineRow.line_no")
    timeline: Mapped[list["TimelineRow"]] = relationship(order_by="TimelineRow.id")


class OrderLineRow(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    product_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    final_unit_price: Mapped[int]
    promotion_id: Mapped[int | None]


class TimelineRow(Base):
    """One reaction to the order: what happened, where, and when."""

    __tablename__ = "order_timeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(30))
    event: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(String(500))
