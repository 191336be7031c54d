"""inventory: serves stock levels (get_stock, get_many)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.catalog_seed import products as seed_products
from shared.contracts.inventory import GetStock, GetStocks, Stock, StockList
from shared.errors import NotFound
from shared.runtime import Service

from .models import StockRow

svc = Service("inventory")


def _stock(row: StockRow) -> Stock:
    return Stock(product_id=row.product_id, available=row.available, in_stock=row.available > 0)


@svc.rpc
def get_stock(params: GetStock, db: Session) -> Stock:
    """Stock of one product."""
    row = db.get(StockRow, params.product_id)
    if row is None:
        raise NotFound(f"no stock record for product {params.product_id}")
    return _stock(row)


@svc.rpc
def get_many(params: GetStocks, db: Session) -> StockList:
    """Stock of many products, in the order asked; unknown ids are left out."""
    ids = params.product_ids
    query = select(StockRow).where(StockRow.product_id.in_(ids))
    rows = {r.product_id: r for r in db.scalars(query)}
    return StockList(items=[_stock(rows[i]) for i in ids if i in rows])


def seed(db: Session) -> None:
    """Stock the demo catalog once (some items low, some sold out)."""
    if db.scalar(select(func.count()).select_from(StockRow)):
        return
    db.add_all(StockRow(product_id=p.id, available=p.stock) for p in seed_products())
