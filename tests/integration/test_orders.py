"""Orders end to end, on SQLite and on PostgreSQL: place through the gateway, then watch
inventory, orders, email, SMS and recommendation react through the event bus."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.catalog_seed import SeedProduct, products

from ..support import Platform, wait_for

ADA = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
IN_STOCK = [p for p in products() if p.stock >= 20]
LOW = next(p for p in products() if 2 <= p.stock <= 5)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory,
         module_backend_env: dict[str, str]) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("orders"), **module_backend_env)
    yield running
    running.close()


def settled(shop: Platform, order_id: int, entries: int = 5) -> dict:
    """Wait until the order's timeline has `entries` entries (placed ... SMS sent)."""
    def check() -> dict | None:
        status, order = shop.get(f"/api/orders/{order_id}")
        return order if status == 200 and len(order["timeline"]) >= entries else None
    return wait_for(check, timeout=15, what=f"order {order_id} to settle")


def place(shop: Platform, items: list[dict], **headers: str) -> tuple[int, dict]:
    status, body, _ = shop.post("/api/orders", {"customer": ADA, "items": items}, headers)
    return status, body


class TestHappyPath:
    def test_an_order_is_confirmed_and_every_service_reacts(self, shop: Platform) -> None:
        first, second = IN_STOCK[0], IN_STOCK[1]
        stock_before = {p.id: shop.get(f"/api/products/{p.id}")[1]["inventory"]["available"]
                        for p in (first, second)}
        status, created = place(shop, [{"product_id": first.id, "quantity": 2},
                                       {"product_id": second.id, "quantity": 1}])
        assert status == 201 and created["status"] == "pending"
        order = settled(shop, created["order_id"])
        assert order["status"] == "confirmed"
        assert [(e["service"], e["event"]) for e in order["timeline"][:3]] == [
            ("orders", "order.placed"), ("inventory", "stock.reserved"),
            ("orders", "order.confirmed")]
        assert sorted(e["service"] for e in order["timeline"][3:]) == ["email", "sms"]
        # Totals were priced at order time and stored; every amount is one Money shape.
        assert order["total"] == created["total"] == {
            "amount": sum(line["final_unit_price"]["amount"] * line["quantity"]
                          for line in order["lines"]), "currency": "USD"}
        for line, product in zip(order["lines"], (first, second), strict=True):
            assert line["unit_price"] == {"amount": product.price, "currency": "USD"}
            assert line["name"] == product.name
        listed = shop.get("/api/orders?page_size=100")[1]["items"]
        assert next(o for o in listed if o["order_id"] == created["order_id"])["total"] \
            == created["total"]
        # Stock went down by exactly the quantities.
        after = {p.id: shop.get(f"/api/products/{p.id}")[1]["inventory"]["available"]
                 for p in (first, second)}
        assert after == {first.id: stock_before[first.id] - 2,
                         second.id: stock_before[second.id] - 1}
        # One email and one SMS for this order.
        oid = created["order_id"]
        assert shop.call("email", "list_sent", {"order_id": oid})["total"] == 1
        assert shop.call("sms", "list_sent", {"order_id": oid})["total"] == 1

    def test_a_sold_out_product_rejects_the_whole_order(self, shop: Platform) -> None:
        sold_out = next(p for p in products() if p.stock == 0)
        plenty = IN_STOCK[2]
        before = shop.get(f"/api/products/{plenty.id}")[1]["inventory"]["available"]
        status, created = place(shop, [{"product_id": plenty.id, "quantity": 1},
                                       {"product_id": sold_out.id, "quantity": 1}])
        assert status == 201
        order = settled(shop, created["order_id"])
        assert order["status"] == "rejected"
        assert "stock.rejected" in [e["event"] for e in order["timeline"]]
        # All or nothing: the line that was available was not reserved either.
        assert shop.get(f"/api/products/{plenty.id}")[1]["inventory"]["available"] == before
        sent = shop.call("email", "list_sent", {"order_id": created["order_id"]})
        assert [m["kind"] for m in sent["items"]] == ["rejection"]

    def test_recommendations_learn_what_was_bought_together(self, shop: Platform) -> None:
        # Two products of different categories: never similar, only bought together.
        a, b = IN_STOCK[3], next(p for p in IN_STOCK if p.category != IN_STOCK[3].category)
        status, created = place(shop, [{"product_id": a.id, "quantity": 1},
                                       {"product_id": b.id, "quantity": 1}])
        assert status == 201 and settled(shop, created["order_id"])["status"] == "confirmed"

        def recommended() -> list[int] | None:
            recs = shop.get(f"/api/products/{a.id}")[1]["recommendations"]
            return [r["id"] for r in recs] if b.id in [r["id"] for r in recs] else None
        assert wait_for(recommended, what="bought-together recommendation")[0] == b.id


class TestIdempotency:
    def test_the_same_key_twice_makes_one_order(self, shop: Platform) -> None:
        items = [{"product_id": IN_STOCK[4].id, "quantity": 1}]
        first_status, first = place(shop, items, **{"Idempotency-Key": "retry-me-1"})
        again_status, again = place(shop, items, **{"Idempotency-Key": "retry-me-1"})
        assert (first_status, again_status) == (201, 200)
        # The same order (its status may have moved on meanwhile).
        assert {**again, "status": None} == {**first, "status": None}
        listed = shop.get("/api/orders?page_size=100")[1]["items"]
        assert [o["order_id"] for o in listed].count(first["order_id"]) == 1
        settled(shop, first["order_id"])
        assert shop.call("email", "list_sent", {"order_id": first["order_id"]})["total"] == 1

    def test_the_same_key_for_another_order_is_a_conflict(self, shop: Platform) -> None:
        place(shop, [{"product_id": IN_STOCK[5].id, "quantity": 1}], **{"Idempotency-Key": "k2"})
        status, body = place(shop, [{"product_id": IN_STOCK[5].id, "quantity": 2}],
                             **{"Idempotency-Key": "k2"})
        assert status == 409 and body["error"]["code"] == "conflict"


class TestPromoCodes:
    """README's promotions: one per product, the most specific first (the product's own,
    then the order's code, then its category's); WELCOME10 is the demo code."""

    HOME = next(p for p in IN_STOCK if p.category == "Home")  # no promotion of its own
    BOOK = next(p for p in IN_STOCK if p.category == "Books" and p.id != 1)  # 15% category
    DEAL = products()[0]  # product 1: 30% off, its own

    def total(self, shop: Platform, product: SeedProduct, code: str | None = None) -> int:
        body = {"customer": ADA, "items": [{"product_id": product.id, "quantity": 1}],
                **({"promo_code": code} if code else {})}
        status, created, _ = shop.post("/api/orders", body)
        assert status == 201, created
        return int(created["total"]["amount"])

    def test_welcome10_takes_ten_percent_off(self, shop: Platform) -> None:
        price = self.HOME.price
        assert self.total(shop, self.HOME, "WELCOME10") == price - price * 10 // 100

    def test_a_products_own_promotion_wins_over_the_code(self, shop: Platform) -> None:
        deal = self.DEAL.price - self.DEAL.price * 30 // 100
        assert self.total(shop, self.DEAL, "WELCOME10") == self.total(shop, self.DEAL) == deal

    def test_the_code_replaces_a_category_promotion(self, shop: Platform) -> None:
        price = self.BOOK.price
        assert self.total(shop, self.BOOK) == price - price * 15 // 100
        assert self.total(shop, self.BOOK, "WELCOME10") == price - price * 10 // 100

    def test_an_unknown_code_prices_the_order_as_without_one(self, shop: Platform) -> None:
        assert self.total(shop, self.HOME, "NO-SUCH-CODE") == self.HOME.price
        assert self.total(shop, self.BOOK, "NO-SUCH-CODE") == self.total(shop, self.BOOK)

    def test_a_malformed_code_is_a_422_naming_it(self, shop: Platform) -> None:
        status, body, _ = shop.post("/api/orders", {
            "customer": ADA, "items": [{"product_id": self.HOME.id, "quantity": 1}],
            "promo_code": "welcome10"})
        assert status == 422 and "promo_code" in body["error"]["message"], body


class TestBadOrders:
    @pytest.mark.parametrize("body, status, field", [
        ({"customer": ADA, "items": []}, 422, "items"),
        ({"customer": ADA, "items": [{"product_id": 1, "quantity": 0}]}, 422,
         "items[0].quantity"),
        ({"customer": {**ADA, "email": "nope"}, "items": [{"product_id": 1, "quantity": 1}]},
         422, "customer.email"),
        ({"customer": ADA, "items": [{"product_id": 999999, "quantity": 1}]}, 404,
         "items[0].product_id"),
        ({"customer": ADA}, 422, "items"),
    ])
    def test_bad_bodies_name_the_field(self, shop: Platform, body: dict, status: int,
                                       field: str) -> None:
        got, answer, _ = shop.post("/api/orders", body)
        assert got == status and field in answer["error"]["message"], answer

    def test_not_json_is_a_400(self, shop: Platform) -> None:
        request = urllib.request.Request(shop.url + "/api/orders", data=b"{nope", method="POST",
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 400
        assert json.loads(caught.value.read())["error"]["code"] == "bad_request"

    def test_unknown_order_is_a_404(self, shop: Platform) -> None:
        status, body = shop.get("/api/orders/999999")
        assert status == 404 and body["error"]["code"] == "not_found"


class TestNoOversell:
    def test_twenty_concurrent_orders_for_the_last_units(self, shop: Platform) -> None:
        units = shop.get(f"/api/products/{LOW.id}")[1]["inventory"]["available"]
        assert 2 <= units <= 5

        def order(_: int) -> int:
            status, created = place(shop, [{"product_id": LOW.id, "quantity": 1}])
            assert status == 201
            return int(created["order_id"])
        with ThreadPoolExecutor(max_workers=20) as pool:
            ids = list(pool.map(order, range(20)))
        statuses = [settled(shop, oid)["status"] for oid in ids]
        assert statuses.count("confirmed") == units
        assert statuses.count("rejected") == 20 - units
        assert shop.get(f"/api/products/{LOW.id}")[1]["inventory"] == {"available": 0,
                                                                         "in_stock": False}


class TestEventStream:
    def test_the_stream_shows_an_orders_events_in_order(self, shop: Platform) -> None:
        status, created = place(shop, [{"product_id": IN_STOCK[6].id, "quantity": 1}])
        settled(shop, created["order_id"])
        with urllib.request.urlopen(shop.url + "/api/events?history=1000&follow=false",
                                    timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            data = [json.loads(line[6:]) for line in resp.read().decode().splitlines()
                    if line.startswith("data: ")]
        mine = [e for e in data if e["payload"].get("order_id") == created["order_id"]]
        assert [e["topic"] for e in mine][:3] == ["order.placed", "stock.reserved",
                                                  "order.confirmed"]
        assert sorted(e["publisher"] for e in mine[3:]) == ["email", "sms"]
        by_publisher: dict[str, list[int]] = {}
        for event in data:
            by_publisher.setdefault(event["publisher"], []).append(event["seq"])
        for seqs in by_publisher.values():  # gap-free and in order per publisher
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


class TestWatchingFromTheTerminal:
    def cli(self, shop: Platform, *args: str) -> list[str]:
        return [sys.executable, "-m", "shared.cli", "events", "--url", shop.url, *args]

    def test_events_prints_the_history(self, shop: Platform) -> None:
        status, created = place(shop, [{"product_id": IN_STOCK[7].id, "quantity": 1}])
        settled(shop, created["order_id"])
        result = subprocess.run(self.cli(shop, "--history", "1000"), capture_output=True,
                                text=True, timeout=30, env=shop.env)
        assert result.returncode == 0, result.stderr
        mine = [line for line in result.stdout.splitlines()
                if re.search(rf"\border {created['order_id']}\b", line)]
        assert [line.split()[2] for line in mine] == [
            "order.placed", "stock.reserved", "order.confirmed", "notification.sent",
            "notification.sent"]

    def test_follow_prints_new_events_as_they_happen(self, shop: Platform) -> None:
        watcher = subprocess.Popen(self.cli(shop, "--follow", "--json", "--history", "1"),
                                   stdout=subprocess.PIPE, text=True, env=shop.env)
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda: [lines.put(x) for x in watcher.stdout],  # type: ignore[union-attr]
                             daemon=True).start()
            # The history (one event per publisher) shows the stream is open: what comes next
            # arrives live.
            wait_for(lambda: not lines.empty(), timeout=15, what="the stream to open")
            status, created = place(shop, [{"product_id": IN_STOCK[8].id, "quantity": 1}])
            seen: list[dict] = []

            def all_five() -> bool:
                while not lines.empty():
                    event = json.loads(lines.get())
                    if event["payload"].get("order_id") == created["order_id"]:
                        seen.append(event)
                return len(seen) >= 5
            wait_for(all_five, timeout=15, what="five live events")
            assert seen[0]["topic"] == "order.placed"
        finally:
            watcher.terminate()
            watcher.wait(timeout=10)
