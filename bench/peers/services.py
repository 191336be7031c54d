"""The five product-page lookups as five small Flask apps, one per service, each over its
own SQLite file seeded by the project's own seed, served by gunicorn sync workers.

Each app answers with the project's own handler (services/*/service.py), so the database
work per lookup is exactly ZeroShop's; what differs is everything around it: HTTP, Flask,
JSON, a session per request. Run one with
`PEER_SERVICE=pricing PEER_DATABASE_URL=sqlite:///... gunicorn 'bench.peers.services:create_app()'`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from flask import Flask, jsonify, request
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from services.discount import models as discount_models
from services.discount import service as discount
from services.inventory import models as inventory_models
from services.inventory import service as inventory
from services.pricing import models as pricing_models
from services.pricing import service as pricing
from services.product import models as product_models
from services.product import service as product
from services.recommendation import models as recommendation_models
from services.recommendation import service as recommendation
from shared.contracts.discount import GetDiscount
from shared.contracts.inventory import GetStock
from shared.contracts.pricing import GetPrice
from shared.contracts.product import GetProduct
from shared.contracts.recommendation import Recommend
from shared.errors import NotFound

Lookup = Callable[[int, Session], Any]  # product id, session -> a msgspec result

# service: (URL rule, the lookup, its tables, its seed)
SERVICES: dict[str, tuple[str, Lookup, Any, Callable[[Session], None]]] = {
    "product": ("/products/<int:pid>",
                lambda pid, db: product.get(GetProduct(id=pid), db),
                product_models.Base.metadata, product.seed),
    "inventory": ("/stock/<int:pid>",
                  lambda pid, db: inventory.get_stock(GetStock(product_id=pid), db),
                  inventory_models.Base.metadata, inventory.seed),
    "pricing": ("/prices/<int:pid>",
                lambda pid, db: pricing.get_price(GetPrice(product_id=pid), db),
                pricing_models.Base.metadata, pricing.seed),
    "discount": ("/discounts/<int:pid>",
                 lambda pid, db: discount.get_discount(GetDiscount(product_id=pid), db),
                 discount_models.Base.metadata, discount.seed),
    "recommendation": ("/recommendations/<int:pid>",
                       lambda pid, db: recommendation.recommend(
                           Recommend(product_id=pid,
                                     limit=request.args.get("limit", 4, type=int)), db),
                       recommendation_models.Base.metadata, recommendation.seed),
}


def seed_databases(folder: Path) -> dict[str, str]:
    """One seeded SQLite file per service in `folder`: {service: database URL}."""
    urls = {}
    for name, (_rule, _lookup, metadata, seed) in SERVICES.items():
        url = f"sqlite:///{folder / f'peer-{name}.db'}"
        engine = create_engine(url)
        metadata.create_all(engine)
        with Session(engine) as db:
            seed(db)
            db.commit()
        engine.dispose()
        urls[name] = url
    return urls


def create_app(name: str | None = None, database_url: str | None = None) -> Flask:
    """The Flask app of one service (PEER_SERVICE, PEER_DATABASE_URL when not given)."""
    name = name or os.environ["PEER_SERVICE"]
    rule, lookup, _metadata, _seed = SERVICES[name]
    # gunicorn calls the factory in each worker after the fork: one engine (pool) per worker.
    sessions = sessionmaker(create_engine(database_url or os.environ["PEER_DATABASE_URL"]))
    app = Flask(f"peer-{name}")

    @app.get(rule, endpoint=name)
    def answer(pid: int) -> Any:
        with sessions() as db:
            try:
                return jsonify(msgspec.to_builtins(lookup(pid, db)))
            except NotFound as exc:
                return jsonify(error=str(exc)), 404

    return app
