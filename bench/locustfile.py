"""Shoppers for Locust: load for users, headless against any ZeroShop URL (`make load`).

Each simulated shopper learns the catalog from the API itself (categories, then a page of
products for its search words), then, with a pause between steps, mostly opens product
pages, browses categories and searches, and now and then places an order: with customer
details and an Idempotency-Key, a 503 retried with the same key as the API asks of every
client. Any other answer at or above 400 counts as a failure in Locust's summary.

    .venv/bin/locust -f bench/locustfile.py --headless --host http://127.0.0.1:8080 \\
        --users 20 --spawn-rate 5 --run-time 60s --only-summary

The gateway's per-client rate limits are on by default, and a load run from one machine
meets them (429s in the summary): start the platform with ZEROSHOP_RATE_LIMIT=off to
measure the platform rather than its limits.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from locust import HttpUser, between, events, task
from locust.env import Environment

CUSTOMER = {"name": "Load Shopper", "email": "shopper@example.com", "phone": "+1 555 0100"}
ORDER_TRIES = 5  # a 503 retried with the same Idempotency-Key, then given up
RETRY_PAUSE_S = 0.5


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--think-max", type=float, default=2.0, include_in_web_ui=False,
                        help="longest pause of a shopper between steps, seconds "
                             "(the shortest is a quarter of it)")


class Shopper(HttpUser):
    """One shopper: weights are what a storefront sees, many pages per order."""

    def wait_time(self) -> float:
        think = float(self.environment.parsed_options.think_max)
        return float(between(think / 4, think)(self))

    def on_start(self) -> None:
        self.categories: list[str] = []
        self.product_ids: list[int] = []
        self.words: list[str] = []
        self.rng = random.Random()
        with self.client.get("/api/categories", name="/api/categories",
                             catch_response=True) as response:
            if response.status_code == 200:
                self.categories = [c["name"] for c in response.json()["items"]]
        for category in self.categories[:3]:
            self._learn(category)

    def _learn(self, category: str) -> None:
        """Remember the product ids and name words of a listing (for pages and searches)."""
        with self.client.get("/api/products", params={"category": category, "page_size": 50},
                             name="/api/products?category", catch_response=True) as r:
            if r.status_code != 200:
                return
            for item in r.json()["items"]:
                self.product_ids.append(int(item["id"]))
                self.words.extend(w for w in item["name"].split() if len(w) > 3)

    def _product_id(self) -> int:
        return self.rng.choice(self.product_ids) if self.product_ids else 1

    @task(10)
    def product_page(self) -> None:
        self.client.get(f"/api/products/{self._product_id()}", name="/api/products/[id]")

    @task(4)
    def browse_category(self) -> None:
        if not self.categories:
            return
        category = self.rng.choice(self.categories)
        self.client.get("/api/products",
                        params={"category": category, "page": self.rng.randint(1, 3)},
                        name="/api/products?category")

    @task(3)
    def search(self) -> None:
        word = self.rng.choice(self.words) if self.words else "a"
        self.client.get("/api/products", params={"q": word.lower()}, name="/api/products?q")

    @task(1)
    def all_categories(self) -> None:
        self.client.get("/api/categories", name="/api/categories")

    @task(2)
    def place_order(self) -> None:
        order = {"customer": CUSTOMER,
                 "items": [{"product_id": pid, "quantity": self.rng.randint(1, 3)}
                           for pid in {self._product_id() for _ in range(self.rng.randint(1, 3))}]}
        key = f"load-{uuid.uuid4().hex}"
        for attempt in range(1, ORDER_TRIES + 1):
            with self.client.post("/api/orders", json=order, headers={"Idempotency-Key": key},
                                  name="/api/orders", catch_response=True) as response:
                if response.status_code in (200, 201):
                    response.success()
                    return
                if response.status_code != 503:
                    response.failure(f"{response.status_code}: {response.text[:200]}")
                    return
                response.failure(f"503 (try {attempt} of {ORDER_TRIES}, retried with the "
                                 "same Idempotency-Key)")
            time.sleep(RETRY_PAUSE_S)  # gevent's sleep under Locust: other shoppers go on


@events.test_stop.add_listener
def _orders_placed(environment: Environment, **_: Any) -> None:
    stats = environment.stats.get("/api/orders", "POST")
    accepted = stats.num_requests - stats.num_failures
    print(f"orders accepted: {accepted}; order answers refused: {stats.num_failures}")
