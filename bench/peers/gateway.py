"""The peer gateway: a Flask app answering GET /api/products/<id> with the same JSON as
ZeroShop's product page, built from the five peer services over HTTP with `requests`.

PEER_GATEWAY_MODE picks how it calls them: `sequential`, one after another on one
requests.Session per worker (what most Flask code does), or `threads`, all five at once
from a thread pool per worker (a requests.Session per pool thread: Session is not
thread-safe). Each call has a timeout; a failed optional section is null and named in
`degraded`, a missing product is 404, as on ZeroShop's page.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import requests
from flask import Flask, jsonify

from shared.contracts.discount import Promotion, discounted

TIMEOUT_S = 1.0
POOL_THREADS = 5  # one per call of the page
# section: (service, path of the lookup for product {pid})
SECTIONS = {
    "product": ("product", "/products/{pid}"),
    "inventory": ("inventory", "/stock/{pid}"),
    "pricing": ("pricing", "/prices/{pid}"),
    "discount": ("discount", "/discounts/{pid}"),
    "recommendation": ("recommendation", "/recommendations/{pid}?limit=4"),
}
Fetch = Callable[[str], "requests.Response | None"]


def _getter(session_for: Callable[[], requests.Session]) -> Fetch:
    def get(url: str) -> requests.Response | None:
        try:
            return session_for().get(url, timeout=TIMEOUT_S)
        except requests.RequestException:
            return None
    return get


def _service_urls() -> dict[str, str]:
    return {name: os.environ[f"PEER_{name.upper()}_URL"] for name, _path in SECTIONS.values()}


def create_app(mode: str | None = None, urls: dict[str, str] | None = None) -> Flask:
    """The gateway (PEER_GATEWAY_MODE and PEER_<SERVICE>_URL when not given)."""
    mode = mode or os.environ["PEER_GATEWAY_MODE"]
    base = urls or _service_urls()
    if mode == "sequential":
        session = requests.Session()  # gunicorn calls this in each worker: one per worker
        get = _getter(lambda: session)

        def fetch_all(urls: list[str]) -> list[requests.Response | None]:
            return [get(url) for url in urls]
    elif mode == "threads":
        local = threading.local()

        def session_for() -> requests.Session:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            return local.session  # type: ignore[no-any-return]
        get = _getter(session_for)
        pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="page")

        def fetch_all(urls: list[str]) -> list[requests.Response | None]:
            return list(pool.map(get, urls))
    else:
        raise ValueError(f"PEER_GATEWAY_MODE must be sequential or threads, got {mode!r}")
    app = Flask(f"peer-gateway-{mode}")

    @app.get("/api/products/<int:pid>")
    def product_page(pid: int) -> Any:
        answers = fetch_all([base[service] + path.format(pid=pid)
                             for service, path in SECTIONS.values()])
        bodies: dict[str, Any] = {}
        for section, answer in zip(SECTIONS, answers, strict=True):
            bodies[section] = answer.json() if answer is not None and answer.ok else None
        if answers[0] is not None and answers[0].status_code == 404:
            return jsonify(error=f"product {pid} does not exist"), 404
        if bodies["product"] is None:
            return jsonify(error="product is unavailable"), 503
        return jsonify(_page(bodies))

    return app


def _page(bodies: dict[str, Any]) -> dict[str, Any]:
    """The page's JSON from the five answers (None: that call failed)."""
    stock, price, discount, recs = (bodies[s] for s in
                                    ("inventory", "pricing", "discount", "recommendation"))
    promotion = discount["promotion"] if discount else None
    money = final = None
    if price:
        money = {"amount": price["amount"], "currency": price["currency"]}
        off = msgspec.convert(promotion, Promotion) if promotion else None
        final = {"amount": discounted(price["amount"], off), "currency": price["currency"]}
    return {
        "product": bodies["product"],
        "inventory": ({"available": stock["available"], "in_stock": stock["in_stock"]}
                      if stock else None),
        "price": money,
        "discount": promotion,
        "final_price": final,
        "recommendations": ([{"id": r["id"], "name": r["name"]} for r in recs["items"]]
                            if recs else None),
        "degraded": [s for s, body in bodies.items() if body is None and s != "product"],
    }
