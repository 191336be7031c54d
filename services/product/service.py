"""product: serves the catalog (get, get_many, list, categories). Publishes and consumes nothing."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.catalog_seed import products as seed_products
from shared.contracts.base import NoParams
from shared.contracts.product import (
    Category,
    CategoryList,
    GetProduct,
    GetProducts,
    ListProducts,
    Product,
    ProductList,
    ProductPage,
)
from shared.errors import NotFound
from shared.runtime import Service

from .models import ProductRow

svc = Service("product")


def _product(row: ProductRow) -> Product:
    return Product(id=row.id, name=row.name, category=row.category, description=row.description)


@svc.rpc
def get(params: GetProduct, db: Session) -> Product:
    """One product by id."""
    row = db.get(ProductRow, params.id)
    if row is None:
        raise NotFound(f"product {params.id} does not exist")
    return _product(row)


@svc.rpc
def get_many(params: GetProducts, db: Session) -> ProductList:
    """Products by ids, in the order asked; unknown ids are left out."""
    rows = {r.id: r for r in db.scalars(select(ProductRow).where(ProductRow.id.in_(params.ids)))}
    return ProductList(items=[_product(rows[i]) for i in params.ids if i in rows])


@svc.rpc
def list(params: ListProducts, db: Session) -> ProductPage:  # noqa: A001 - the RPC method's name
    """One page of products, filtered by category and by a substring of the name."""
    query = select(ProductRow)
    if params.category:
        query = query.where(ProductRow.category == params.category)
    if params.q:
        query = query.where(ProductRow.name.icontains(params.q, autoescape=True))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(ProductRow.id)
                      .offset((params.page - 1) * params.page_size).limit(params.page_size))
    return ProductPage(items=[_product(r) for r in rows], page=params.page,
                       page_size=params.page_size, total=total)


@svc.rpc
def categories(params: NoParams, db: Session) -> CategoryList:
    """Every category with its number of products."""
    rows = db.execute(select(ProductRow.category, func.count()).group_by(ProductRow.category)
                      .order_by(ProductRow.category))
    return CategoryList(items=[Category(name=name, product_count=n) for name, n in rows])


def seed(db: Session) -> None:
    """Load the demo catalog once; a database that has products is left alone."""
    if db.scalar(select(func.count()).select_from(ProductRow)):
        return
    db.add_all(ProductRow(id=p.id, name=p.name, category=p.category, description=p.description)
               for p in seed_products())
