"""inventory: serves stock levels (get_stock, get_many).

Consumes order.placed and reserves every line or none; publishes stock.reserved or
stock.rejected. A guarded UPDATE (available >= n) means stock never goes below zero,
whatever the number of replicas or concurrent orders.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, func, select, update
from sqlalchemy.orm import Session

from shared.catalog_seed import products as seed_products
from shared.contracts.events import OrderPlaced, Shortage, StockLine, StockRejected, StockReserved
from shared.contracts.inventory import GetStock, GetStocks, Stock, StockList
from shared.errors import NotFound
from shared.events import emit
from shared.runtime import Service

from .models import Reservation, StockRow

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


# Built once (building it for every line was a quarter of the handler's CPU): takes
# `quantity` units of a product only if that many are there, so stock never goes below
# zero. No stock object is kept in step in the session (that cost a fifth of the handler);
# a shortage reads its row afresh.
_TAKE = (update(StockRow)
         .where(StockRow.product_id == bindparam("product"),
                StockRow.available >= bindparam("quantity"))
         .values(available=StockRow.available - bindparam("quantity"))
         .execution_options(synchronize_session=False))


@svc.on(OrderPlaced)
def reserve_stock(event: OrderPlaced, db: Session) -> None:
    """Reserve every line of the order, or none of them."""
    wanted: dict[int, int] = {}
    for line in event.lines:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    shortages = []
    savepoint = db.begin_nested()  # undone whole if any line is short
    for product_id, quantity in sorted(wanted.items()):
        result = db.execute(_TAKE, {"product": product_id, "quantity": quantity})
        taken = cast(CursorResult[Any], result).rowcount  # what an UPDATE returns at runtime
        if taken != 1:
            row = db.get(StockRow, product_id, populate_existing=True)
            shortages.append(Shortage(product_id=product_id, requested=quantity,
                                      available=row.available if row else 0))
    if shortages:
        savepoint.rollback()
    else:
        savepoint.commit()
    if shortages:
        emit(db, StockRejected(order_id=event.order_id, shortages=shortages,
                               reason="not enough stock for " + ", ".join(
                                   f"product {s.product_id} ({s.available} left, "
                                   f"{s.requested} asked)" for s in shortages)))
        return
    db.add_all(Reservation(order_id=event.order_id, product_id=p, quantity=q)
               for p, q in wanted.items())
    emit(db, StockReserved(order_id=event.order_id,
                           lines=[StockLine(product_id=p, quantity=q) for p, q in wanted.items()]))


def seed(db: Session) -> None:
    """Stock the demo catalog once (some items low, some sold out)."""
    if db.scalar(select(func.count()).select_from(StockRow)):
        return
    db.add_all(StockRow(product_id=p.id, available=p.stock) for p in seed_products())
