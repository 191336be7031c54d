"""discount's tables: promotions, and the product -> category read model they apply through."""

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class PromotionRow(Base):
    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # percent | amount
    value: Mapped[int]
    scope: Mapped[str] = mapped_column(String(10))  # product | category | code
    product_id: Mapped[int | None] = mapped_column(index=True)
    category: Mapped[str | None] = mapped_column(String(50), index=True)
    code: Mapped[str | None] = mapped_column(String(32), index=True)
    active: Mapped[bool] = mapped_column(default=True)


class ProductCategory(Base):
    """Which category a product is in: discount's own copy, so it never asks product."""

    __tablename__ = "product_categories"

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(50))
