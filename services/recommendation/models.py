"""recommendation's tables: a catalog read model and co-purchase counts."""

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CatalogEntry(Base):
    """Name and category of each product: recommendation's own copy, so replies carry names."""

    __tablename__ = "catalog_entries"

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50), index=True)


class CoPurchase(Base):
    """How often two products were bought in one order (fed by order events)."""

    __tablename__ = "co_purchases"

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    other_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(default=0)
