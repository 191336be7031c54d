"""S3 part 3: an order to all its reactions, on the whole event path of the platform.

Orders, inventory, email, sms and recommendation run as real processes (SQLite files,
loopback, PUB/SUB plus fetch on gaps, the production heartbeat). An order is settled when
inventory reserved its stock, orders confirmed it, email and SMS recorded their sends and
orders noted both in the order's timeline: five events, each applied by every follower of
its publisher.

How the benchmark sees progress without loading the services: a watcher thread follows
orders, email and sms with the library's own Follower (as the gateway's live event stream
does) and notes when each order's `order.confirmed` and `notification.sent` events arrive;
each is committed in the same transaction as the state it announces. Only the last hop
(orders recording the notifications in the timeline) publishes nothing, so it is seen by
polling `get_order`. (Today's fetch-only comparison and the idle cost of polling were
dropped from S3: they are a design choice already measured, not a target.)
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from shared.catalog_seed import products
from shared.contracts.bus import Envelope
from shared.events.follow import Follower, Source
from shared.messaging import Call, RpcClient, new_context
from tests.support import Platform

from ..common import Arrivals, cpu_seconds, percentile, progress

FLOW = ("orders", "inventory", "email", "sms", "recommendation")
ORDER_EVENTS = 5  # order.placed, stock.reserved, order.confirmed, notification.sent x 2
TIMELINE_ENTRIES = 5  # order.placed, stock.reserved, order.confirmed, email sent, SMS sent
CUSTOMER = {"name": "Bench Mark", "email": "bench@example.com", "phone": "+44 20 7946 0001"}
ORDER_TIMEOUT_S = 10.0  # per order; a slower order counts as an error
WATCHED = ("orders", "email", "sms")  # publishers of order.confirmed and notification.sent
HEARTBEAT_MS = "1000"  # the production default (tests/support uses 200 ms)


class Watcher:
    """Follows `WATCHED` publishers in a thread and notes (publisher, topic, order id)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.arrivals = Arrivals()
        self._sources = {name: Source(env[f"{name.upper()}_ENDPOINT"],
                                      env[f"{name.upper()}_EVENTS_ENDPOINT"])
                         for name in WATCHED}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ctx = new_context()
        follower = Follower(ctx, self._sources, dict.fromkeys(self._sources, 0), self._seen)
        try:
            while not self._stopping.is_set():
                follower.step(100)
        finally:
            follower.close()
            ctx.term()

    def _seen(self, publisher: str, event: Envelope) -> bool:
        if event.topic in ("order.confirmed", "notification.sent"):
            order_id = msgspec.json.decode(bytes(event.payload))["order_id"]
            self.arrivals.mark((publisher, event.topic, order_id))
        return True

    def confirmed(self, order_id: int, timeout: float) -> float | None:
        return self.arrivals.wait(("orders", "order.confirmed", order_id), timeout)

    def notified(self, order_id: int, timeout: float) -> float | None:
        """When the later of the email and the SMS was sent (both committed)."""
        email = self.arrivals.wait(("email", "notification.sent", order_id), timeout)
        sms = self.arrivals.wait(("sms", "notification.sent", order_id), timeout)
        return None if email is None or sms is None else max(email, sms)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)


class OrderPlacer:
    """Places one-line bench orders on orders' endpoint from any number of threads, each
    with a client of its own (an RpcClient serves one thread)."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._products = itertools.cycle([p.id for p in products() if p.stock >= 100])
        self._lock = threading.Lock()
        self._local = threading.local()
        self._ctx = new_context()
        self._clients: list[RpcClient] = []
        self.placed = 0

    def _client(self) -> RpcClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = RpcClient(self._ctx, {"orders": self._endpoint})
            with self._lock:
                self._clients.append(client)
        return client

    def place(self) -> int:
        """One order, answered (committed with its order.placed event); its id."""
        with self._lock:
            product_id = next(self._products)
            self.placed += 1
        line = {"product_id": product_id, "name": "bench item", "quantity": 1,
                "unit_price": 1000, "final_unit_price": 900}
        accepted = self._client().call(Call("orders", "place_order", {
            "customer": CUSTOMER, "lines": [line], "currency": "USD", "idempotency_key": None},
            Any), 5000)
        return int(accepted["order_id"])

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._ctx.term()


class FlowShop:
    """The platform, its watcher, and the orders placed on it."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.platform = Platform(data_dir, FLOW, gateway=False,
                                 ZEROSHOP_HEARTBEAT_MS=HEARTBEAT_MS)
        try:
            self.watcher = Watcher(self.platform.env)
        except BaseException:
            self.platform.close()
            raise
        self._placer = OrderPlacer(self.platform.env["ORDERS_ENDPOINT"])

    @property
    def placed(self) -> int:
        return self._placer.placed

    def call(self, service: str, method: str, params: dict[str, Any]) -> Any:
        return self.platform.call(service, method, params, timeout_ms=5000)

    def place(self) -> int:
        return self._placer.place()

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(self.platform.pid(name)) for name in FLOW}

    def settled(self, timeout: float = 30.0) -> bool:
        """Every order placed so far is confirmed and both its notifications were sent."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            confirmed = self.call("orders", "list_orders",
                                  {"status": "confirmed", "page_size": 1})["total"]
            emails = self.call("email", "list_sent", {"limit": 1})["total"]
            sms = self.call("sms", "list_sent", {"limit": 1})["total"]
            if confirmed == emails == sms == self.placed:
                return True
            time.sleep(0.05)
        return False

    def recorded(self, order_id: int, deadline: float, sleep_s: float = 0.001) -> float | None:
        """Poll `get_order` until the timeline holds both notifications (the last hop
        publishes nothing); returns when that was seen, or None after `deadline`."""
        while True:
            order = self.call("orders", "get_order", {"order_id": order_id})
            now = time.perf_counter()
            if len(order["timeline"]) >= TIMELINE_ENTRIES:
                return now
            if now > deadline:
                return None
            time.sleep(sleep_s)

    def close(self) -> None:
        try:
            self.watcher.close()
            self._placer.close()
        finally:
            self.platform.close()


# --- one order at a time: how long its reactions take ---------------------------------------

@dataclass
class OrderLatency:
    place: list[float] = field(default_factory=list)  # place_order's call
    settled: list[float] = field(default_factory=list)  # ... to the fifth timeline entry
    errors: int = 0

    def p(self, values: list[float], q: float) -> float:
        return percentile(values, q) * 1000 if values else float("nan")


def run_latency(shop: FlowShop, rounds: int, warmup: int) -> OrderLatency:
    """One order after another, each waited for; the clock starts before `place_order`."""
    out = OrderLatency()
    for r in range(-warmup, rounds):
        start = time.perf_counter()
        order_id = shop.place()
        placed = time.perf_counter()
        sent = shop.watcher.notified(order_id, ORDER_TIMEOUT_S)
        recorded = shop.recorded(order_id, start + ORDER_TIMEOUT_S) if sent else None
        if r < 0:
            continue
        if recorded is None:
            out.errors += 1
            continue
        out.place.append(placed - start)
        out.settled.append(recorded - start)
        time.sleep(0.005)  # let the last offset-only deliveries of this order finish
    return out


# --- throughput: orders fully settled per second --------------------------------------------

@dataclass
class Batch:
    orders: int
    seconds: float  # first place_order to the last order's fifth timeline entry
    place_s: float  # placing them, the clients at once
    settled: bool  # afterwards: every order confirmed, one email and one SMS each
    cpu_s: dict[str, float]

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds > 0 else float("nan")


def _place_all(shop: FlowShop, orders: int, clients: int) -> int:
    """Place `orders` from `clients` threads, each its next once its last was answered;
    returns the highest order id."""
    if clients == 1:
        return max(shop.place() for _ in range(orders))
    share = [orders // clients + (1 if c < orders % clients else 0) for c in range(clients)]
    with ThreadPoolExecutor(clients, thread_name_prefix="client") as pool:
        return max(pool.map(lambda n: max((shop.place() for _ in range(n)), default=0), share))


def _batch(shop: FlowShop, orders: int, clients: int, timeout: float = 60.0) -> Batch:
    cpu0 = shop.cpu()
    start = time.perf_counter()
    last = _place_all(shop, orders, clients)
    placed = time.perf_counter() - start
    # Events of one publisher are applied in sequence order, so the last order recorded
    # means every order before it is too; settled() checks the totals afterwards. The
    # watcher sees its notifications go out without asking anything; only then is orders
    # polled for the last hop, so the polling does not load orders while the batch runs.
    sent = shop.watcher.notified(last, timeout)
    recorded = shop.recorded(last, start + timeout) if sent is not None else None
    cpu1 = shop.cpu()
    seconds = recorded - start if recorded is not None else float("nan")
    return Batch(orders, seconds, placed, recorded is not None and shop.settled(10),
                 {name: cpu1[name] - cpu0[name] for name in cpu0})


def run_throughput(shop: FlowShop, orders: int, batches: int, clients: int = 1) -> list[Batch]:
    """`batches` batches of `orders` each, every batch starting from an idle platform."""
    result = []
    for b in range(batches):
        shop.place()  # untimed: every consumer awake and level
        shop.settled()
        result.append(_batch(shop, orders, clients))
        progress(f"  settled orders: batch {b + 1}/{batches}: {result[-1].rate:.0f} orders/s")
    return result


def median_rate(batches: list[Batch]) -> float:
    rates = [b.rate for b in batches if b.rate == b.rate]
    return statistics.median(rates) if rates else float("nan")
