"""inventory's tables: stock levels."""

from sqlalchemy import CheckConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class StockRow(Base):
    __tablename__ = "stock"
    # The database refuses negative stock, whatever the code does (no oversell).
    __table_args__ = (CheckConstraint("available >= 0", name="stock_not_negative"),)

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    available: Mapped[int]


class Reservation(Base):
    """Units held for an order (all of its lines, or none)."""

    __tablename__ = "reservations"

    order_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    quantity: Mapped[int]
