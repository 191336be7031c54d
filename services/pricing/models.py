"""pricing's tables: base prices."""

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class PriceRow(Base):
    __tablename__ = "prices"

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    amount: Mapped[int]  # minor units: integer cents, never floats
    currency: Mapped[str] = mapped_column(String(3))
