"""discount: serves the promotion that applies to a product (get_discount, get_many).

The most specific active promotion wins: by product, then by code, then by category.
"""

from __future__ import annotations

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from shared.catalog_seed import products as seed_products
from shared.catalog_seed import promotions as seed_promotions
from shared.contracts.discount import Discount, DiscountList, GetDiscount, GetDiscounts, Promotion
from shared.runtime import Service

from .models import ProductCategory, PromotionRow

svc = Service("discount")
_PRECEDENCE = {"product": 0, "code": 1, "category": 2}


def _promotion(row: PromotionRow) -> Promotion:
    return Promotion(id=row.id, name=row.name, kind=row.kind,  # type: ignore[arg-type]
                     value=row.value, scope=row.scope,  # type: ignore[arg-type]
                     product_id=row.product_id, category=row.category, code=row.code)


def _best(product_ids: list[int], code: str | None, db: Session) -> dict[int, Promotion | None]:
    categories = {pid: cat for pid, cat in db.execute(
        select(ProductCategory.product_id, ProductCategory.category)
        .where(ProductCategory.product_id.in_(product_ids)))}
    rows = db.scalars(select(PromotionRow).where(
        PromotionRow.active,
        or_(PromotionRow.product_id.in_(product_ids),
            PromotionRow.category.in_(set(categories.values())),
            PromotionRow.code == code if code else false()),
    )).all()
    best: dict[int, Promotion | None] = {}
    for pid in product_ids:
        applicable = [r for r in rows if r.product_id == pid
                      or (r.scope == "code" and r.code == code)
                      or (r.scope == "category" and r.category == categories.get(pid))]
        applicable.sort(key=lambda r: (_PRECEDENCE[r.scope], r.id))
        best[pid] = _promotion(applicable[0]) if applicable else None
    return best


@svc.rpc
def get_discount(params: GetDiscount, db: Session) -> Discount:
    """The promotion for one product (null when none applies)."""
    promotion = _best([params.product_id], params.code, db)[params.product_id]
    return Discount(product_id=params.product_id, promotion=promotion)


@svc.rpc
def get_many(params: GetDiscounts, db: Session) -> DiscountList:
    """The promotion for each product asked, in order."""
    best = _best(params.product_ids, params.code, db)
    items = [Discount(product_id=p, promotion=best[p]) for p in params.product_ids]
    return DiscountList(items=items)


def seed(db: Session) -> None:
    """Load the demo promotions and the category read model once."""
    if db.scalar(select(func.count()).select_from(ProductCategory)):
        return
    db.add_all(ProductCategory(product_id=p.id, category=p.category) for p in seed_products())
    db.add_all(PromotionRow(id=p.id, name=p.name, kind=p.kind, value=p.value, scope=p.scope,
                            product_id=p.product_id, category=p.category, code=p.code)
               for p in seed_promotions())
