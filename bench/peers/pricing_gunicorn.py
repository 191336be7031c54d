"""The pricing lookup as its users would build it without ZeroShop: a Flask app with a
SQLAlchemy model and a session per request, served by gunicorn's sync workers, reading the
same SQLite file the pricing service uses (`PRICING_PEER_DATABASE_URL`). The baseline of
the cold-start and memory benchmarks (bench/s4_cold_start.py, bench/s5_memory.py).

    PRICING_PEER_DATABASE_URL=sqlite:////path/to/pricing.db .venv/bin/gunicorn \\
        --workers 5 --bind 127.0.0.1:8000 bench.peers.pricing_gunicorn:app
    curl http://127.0.0.1:8000/prices/1
"""

from __future__ import annotations

import os

from flask import Flask, abort, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session, sessionmaker

engine = create_engine(os.environ["PRICING_PEER_DATABASE_URL"])
Session = scoped_session(sessionmaker(bind=engine))


class Base(DeclarativeBase):
    pass


class PriceRow(Base):
    __tablename__ = "prices"

    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))


app = Flask(__name__)


@app.teardown_appcontext
def _end_session(_: BaseException | None) -> None:
    Session.remove()


@app.get("/prices/<int:product_id>")
def get_price(product_id: int) -> ResponseReturnValue:
    row = Session.get(PriceRow, product_id)
    if row is None:
        abort(404)
    return jsonify(product_id=row.product_id, amount=row.amount, currency=row.currency)
