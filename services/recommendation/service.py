"""recommendation: serves products to show beside a product (recommend).

Bought-together products come first (most often first); the rest of the list is filled
with products from the same category, nearest by id, so every product page has a full row.
Consumes order.confirmed to count which products were bought together.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.catalog_seed import products as seed_products
from shared.contracts.events import OrderConfirmed
from shared.contracts.recommendation import Recommend, Recommendations, Recommended
from shared.errors import NotFound
from shared.runtime import Service

from .models import CatalogEntry, CoPurchase

svc = Service("recommendation")


@svc.rpc
def recommend(params: Recommend, db: Session) -> Recommendations:
    """Up to `limit` products to show beside `product_id`, with their names."""
    entry = db.get(CatalogEntry, params.product_id)
    if entry is None:
        raise NotFound(f"product {params.product_id} is not in the catalog")
    bought_together = db.scalars(
        select(CatalogEntry).join(CoPurchase, CoPurchase.other_id == CatalogEntry.product_id)
        .where(CoPurchase.product_id == entry.product_id)
        .order_by(CoPurchase.count.desc(), CatalogEntry.product_id).limit(params.limit)
    ).all()
    chosen = {e.product_id for e in bought_together} | {entry.product_id}
    similar = db.scalars(
        select(CatalogEntry)
        .where(CatalogEntry.category == entry.category, CatalogEntry.product_id.not_in(chosen))
        .order_by(func.abs(CatalogEntry.product_id - entry.product_id), CatalogEntry.product_id)
        .limit(params.limit - len(bought_together))
    ).all()
    items = [Recommended(id=e.product_id, name=e.name) for e in [*bought_together, *similar]]
    return Recommendations(product_id=entry.product_id, items=items)


@svc.on(OrderConfirmed)
def count_bought_together(event: OrderConfirmed, db: Session) -> None:
    """Add one to the count of every pair of distinct products in the order."""
    products = sorted({line.product_id for line in event.lines})
    for product_id in products:
        for other_id in products:
            if other_id == product_id:
                continue
            pair = db.get(CoPurchase, (product_id, other_id))
            if pair is None:
                db.add(CoPurchase(product_id=product_id, other_id=other_id, count=1))
            else:
                pair.count += 1


def seed(db: Session) -> None:
    """Load the catalog read model once."""
    if db.scalar(select(func.count()).select_from(CatalogEntry)):
        return
    db.add_all(CatalogEntry(product_id=p.id, name=p.name, category=p.category)
               for p in seed_products())
