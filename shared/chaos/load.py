"""The shoppers of a chaos run: browsers open product pages and lists, buyers place orders
and, as the README asks of any client, retry a 503 (or a dropped connection, or an answer cut
short) with the same Idempotency-Key until the order is accepted. Every answer is counted by
status; a shopper that dies of anything else is a surprise the verdicts show."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shared.catalog_seed import CATEGORIES, PRODUCT_COUNT

HOT_PRODUCTS = range(1, 41)  # few enough that stock runs out: some orders are rejected
CUSTOMER = {"name": "Chaos Monkey", "email": "chaos@example.com", "phone": "+1 555 0100"}
RETRY_PAUSE_S = 0.2
# Statuses a shopper may see while services die: the API documents 503 for a required
# service that is down; anything else at or above 500 is a broken promise.
DOCUMENTED = {200, 201, 503}


@dataclass
class Tally:
    """What the shoppers saw; shared by their threads (guarded by `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pages: Counter[int] = field(default_factory=Counter)  # HTTP status -> answers
    orders: Counter[int] = field(default_factory=Counter)
    unreachable: int = 0  # no whole HTTP answer (the gateway was down, or died mid-answer)
    accepted: dict[str, int] = field(default_factory=dict)  # Idempotency-Key -> order id
    given_up: list[str] = field(default_factory=list)  # keys never accepted in time
    surprises: list[str] = field(default_factory=list)  # answers outside the contract

    def count(self, kind: Counter[int], status: int, what: str, body: bytes) -> None:
        with self.lock:
            kind[status] += 1
            if status not in DOCUMENTED and len(self.surprises) < 20:
                self.surprises.append(f"{what}: {status} {body[:200]!r}")


# No whole answer: the gateway was down, or was killed mid-answer (a body cut short raises
# http.client.IncompleteRead, which is no OSError). Either way, ask again.
NO_ANSWER = (OSError, http.client.HTTPException)


def _request(url: str, body: Any = None, headers: dict[str, str] | None = None,
             timeout: float = 10.0) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Shoppers:
    def __init__(self, url: str, browsers: int, buyers: int, seed: int, run_id: str) -> None:
        self.url = url
        self.tally = Tally()
        self._stop = threading.Event()
        self._buy_until = float("inf")
        self._run_id = run_id
        self._threads = [threading.Thread(target=self._guarded, args=(self._browse, seed + i),
                                          name=f"browser-{i}", daemon=True)
                         for i in range(browsers)]
        self._threads += [threading.Thread(target=self._guarded, args=(self._buy, -seed - i, i),
                                           name=f"buyer-{i}", daemon=True)
                          for i in range(buyers)]

    def _guarded(self, shop: Any, seed: int, *args: Any) -> None:
        """Run one shopper; if it dies of something unforeseen, that is a surprise the
        verdicts show, not a shopper silently gone (its order would be counted by no one)."""
        try:
            shop(random.Random(seed), *args)
        except Exception as exc:  # noqa: BLE001 - reported as a broken promise
            with self.tally.lock:
                self.tally.surprises.append(
                    f"{threading.current_thread().name} stopped: {type(exc).__name__}: {exc}")

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, grace_s: float) -> None:
        """Stop browsing now; a buyer still retrying an order gets `grace_s` to finish it."""
        self._buy_until = time.monotonic() + grace_s
        self._stop.set()
        for thread in self._threads:
            thread.join(grace_s + 15)

    def _browse(self, rng: random.Random) -> None:
        while not self._stop.is_set():
            roll = rng.random()
            if roll < 0.7:
                path = f"/api/products/{rng.randint(1, PRODUCT_COUNT)}"
            elif roll < 0.9:
                category = rng.choice(list(CATEGORIES))
                path = f"/api/products?category={category}&page={rng.randint(1, 3)}"
            else:
                path = "/api/categories"
            try:
                status, body = _request(self.url + path)
            except NO_ANSWER:
                with self.tally.lock:
                    self.tally.unreachable += 1
                time.sleep(RETRY_PAUSE_S)  # the gateway is restarting: do not spin
                continue
            self.tally.count(self.tally.pages, status, f"GET {path}", body)

    def _buy(self, rng: random.Random, buyer: int) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            key = f"chaos-{self._run_id}-{buyer}-{number}"
            lines = rng.sample(HOT_PRODUCTS, rng.randint(1, 2))
            order = {"customer": CUSTOMER,
                     "items": [{"product_id": p, "quantity": rng.randint(1, 3)} for p in lines]}
            self._place(key, order)

    def _place(self, key: str, order: dict[str, Any]) -> None:
        while time.monotonic() < self._buy_until:
            try:
                status, body = _request(self.url + "/api/orders", order,
                                        {"Idempotency-Key": key})
            except NO_ANSWER:
                with self.tally.lock:
                    self.tally.unreachable += 1
                time.sleep(RETRY_PAUSE_S)
                continue
            self.tally.count(self.tally.orders, status, f"POST /api/orders ({key})", body)
            if status in (200, 201):
                with self.tally.lock:
                    self.tally.accepted[key] = int(json.loads(body)["order_id"])
                return
            if status != 503:
                return  # a surprise, already recorded: retrying would not change it
            time.sleep(RETRY_PAUSE_S)
        with self.tally.lock:
            self.tally.given_up.append(key)
