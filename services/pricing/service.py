"""pricing: serves base prices in integer minor units (get_price, get_many)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.catalog_seed import CURRENCY
from shared.catalog_seed import products as seed_products
from shared.contracts.pricing import GetPrice, GetPrices, Price, PriceList
from shared.errors import NotFound
from shared.runtime import Service

from .models import PriceRow

svc = Service("pricing")


def _price(row: PriceRow) -> Price:
    return Price(product_id=row.product_id, amount=row.amount, currency=row.currency)


@svc.rpc
def get_price(params: GetPrice, db: Session) -> Price:
    """Price of one product."""
    row = db.get(PriceRow, params.product_id)
    if row is None:
        raise NotFound(f"no price for product {params.product_id}")
    return _price(row)


@svc.rpc
def get_many(params: GetPrices, db: Session) -> PriceList:
    """Prices of many products, in the order asked; unknown ids are left out."""
    ids = params.product_ids
    query = select(PriceRow).where(PriceRow.product_id.in_(ids))
    rows = {r.product_id: r for r in db.scalars(query)}
    return PriceList(items=[_price(rows[i]) for i in ids if i in rows])


def seed(db: Session) -> None:
    """Price the demo catalog once."""
    if db.scalar(select(func.count()).select_from(PriceRow)):
        return
    db.add_all(PriceRow(product_id=p.id, amount=p.price, currency=CURRENCY)
               for p in seed_products())
