"""Event-bus benchmark, parts 1 and 2: what follows an order, PUB/SUB versus fetch-only.

One platform per consumer mode (orders, inventory, email, sms, recommendation as real
processes, each platform with its own SQLite files and ports), started side by side:

- PUB/SUB fast path plus fetch on gaps (the default, ZEROSHOP_EVENTS_POLL_MS=0);
- fetch-only polling: no SUB socket, "events after N" every ZEROSHOP_EVENTS_POLL_MS.

Orders are placed with the orders RPC `place_order` (no gateway, no pricing). While one
platform is measured the others are frozen with SIGSTOP, so a polling platform's idle
fetching does not take the CPUs the measured one needs; their idle cost is measured apart.

How the benchmark sees progress without loading the services: a watcher thread per
platform follows orders, email and sms with the library's own Follower (PUB/SUB plus fetch
on gaps, offsets in memory, as the gateway's live event stream does) and notes when each
order's `order.confirmed` and `notification.sent` events arrive; each is committed in the
same transaction as the state it announces. Only the last hop (orders recording the two
notifications in the timeline) publishes nothing, so it is seen by polling `get_order`.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from shared.catalog_seed import products
from shared.contracts import SERVICES, TOPICS
from shared.contracts.bus import Envelope
from shared.events.follow import Follower, Source
from shared.messaging import new_context
from tests.support import Platform

from .common import Arrivals, Summary, cpu_seconds, fmt_ms, fmt_ratio, progress, table

FLOW = ("orders", "inventory", "email", "sms", "recommendation")
# What one confirmed order publishes, (topic, publisher), in order: the chain waited for.
ORDER_EVENTS = (("order.placed", "orders"), ("stock.reserved", "inventory"),
                ("order.confirmed", "orders"), ("notification.sent", "email"),
                ("notification.sent", "sms"))
TIMELINE_ENTRIES = 5  # order.placed, stock.reserved, order.confirmed, email sent, SMS sent
CUSTOMER = {"name": "Bench Mark", "email": "bench@example.com", "phone": "+44 20 7946 0001"}
ORDER_TIMEOUT_S = 10.0  # per order in part 1; a slower order counts as an error
WATCHED = ("orders", "email", "sms")  # publishers of order.confirmed and notification.sent
HEARTBEAT_MS = "1000"  # the production default (tests/support uses 200 ms)


def deliveries_per_order(services: Sequence[str] = FLOW) -> int:
    """Consumer transactions per order: every consumer follows everything its publishers
    send (sequence numbers are per publisher), so each event reaches each follower."""
    def followers(publisher: str) -> int:
        return sum(1 for s in services
                   if any(publisher in TOPICS[t].publishers for t in SERVICES[s].consumes))
    return sum(followers(publisher) for _, publisher in ORDER_EVENTS)


@dataclass(frozen=True)
class Mode:
    key: str
    poll_ms: int

    @property
    def label(self) -> str:
        if self.poll_ms == 0:
            return "PUB/SUB + fetch on gaps (default)"
        return f"fetch-only, every {self.poll_ms} ms"


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


class FlowShop:
    """One platform in one consumer mode, its watcher, and the orders placed on it."""

    def __init__(self, mode: Mode, data_dir: Path) -> None:
        self.mode = mode
        data_dir.mkdir(parents=True, exist_ok=True)
        self.platform = Platform(data_dir, FLOW, gateway=False,
                                 ZEROSHOP_EVENTS_POLL_MS=str(mode.poll_ms),
                                 ZEROSHOP_HEARTBEAT_MS=HEARTBEAT_MS)
        try:
            self.watcher = Watcher(self.platform.env)
        except BaseException:
            self.platform.close()
            raise
        self._products = itertools.cycle([p.id for p in products() if p.stock >= 100])
        self.placed = 0
        self.frozen = False

    def call(self, service: str, method: str, params: dict[str, Any]) -> Any:
        return self.platform.call(service, method, params, timeout_ms=5000)

    def place(self) -> int:
        line = {"product_id": next(self._products), "name": "bench item", "quantity": 1,
                "unit_price": 1000, "final_unit_price": 900}
        accepted = self.call("orders", "place_order", {
            "customer": CUSTOMER, "lines": [line], "currency": "USD", "idempotency_key": None})
        self.placed += 1
        return int(accepted["order_id"])

    def get_order(self, order_id: int) -> dict[str, Any]:
        return dict(self.call("orders", "get_order", {"order_id": order_id}))

    def pids(self) -> list[int]:
        return [self.platform.pid(name) for name in FLOW]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def freeze(self, frozen: bool) -> None:
        if frozen != self.frozen:
            for name in FLOW:
                self.platform.signal(name, signal.SIGSTOP if frozen else signal.SIGCONT)
            self.frozen = frozen

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

    def recorded(self, order_id: int, deadline: float, stats: PollStats,
                 sleep_s: float) -> float | None:
        """Poll `get_order` until the timeline holds both notifications (the last hop
        publishes nothing); returns when that was seen, or None after `deadline`."""
        while True:
            before = time.perf_counter()
            order = self.get_order(order_id)
            now = time.perf_counter()
            stats.polls += 1
            stats.rpc_s += now - before
            if len(order["timeline"]) >= TIMELINE_ENTRIES:
                return now
            if now > deadline:
                return None
            time.sleep(sleep_s)

    def terminate(self) -> None:
        """Ask every process to stop without waiting (close() then waits): several
        platforms stop in parallel."""
        self.freeze(False)  # a stopped process cannot act on SIGTERM
        for child in self.platform.group.children.values():
            if child.running:
                child.process.send_signal(signal.SIGTERM)

    def close(self) -> None:
        try:
            self.freeze(False)
            self.watcher.close()
        finally:
            self.platform.close()


def only(shops: Sequence[FlowShop], active: FlowShop, settle_s: float = 0.02) -> None:
    """Thaw `active`, freeze the rest; give a thawed platform a moment to settle."""
    for shop in shops:
        if shop is not active:
            shop.freeze(True)
    if active.frozen:
        active.freeze(False)
        time.sleep(settle_s)


# --- part 1: latency ----------------------------------------------------------------------

@dataclass
class PollStats:
    polls: int = 0
    rpc_s: float = 0.0  # time spent inside get_order calls


@dataclass
class LatencySamples:
    mode: Mode
    place: list[float] = field(default_factory=list)
    confirmed: list[float] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)
    recorded: list[float] = field(default_factory=list)
    errors: int = 0
    stats: PollStats = field(default_factory=PollStats)


@dataclass
class LatencyResult:
    samples: list[LatencySamples]
    rounds: int
    warmup: int
    poll_sleep_ms: float


def _one_order(shop: FlowShop, out: LatencySamples, poll_sleep_s: float) -> None:
    start = time.perf_counter()
    order_id = shop.place()
    placed = time.perf_counter()  # the clock starts when place_order has answered
    deadline = placed + ORDER_TIMEOUT_S
    confirmed = shop.watcher.confirmed(order_id, ORDER_TIMEOUT_S)
    sent = shop.watcher.notified(order_id, max(0.0, deadline - time.perf_counter()))
    recorded = None
    if confirmed is not None and sent is not None:
        recorded = shop.recorded(order_id, deadline, out.stats, poll_sleep_s)
    if confirmed is None or sent is None or recorded is None:
        out.errors += 1
        return
    out.place.append(placed - start)
    out.confirmed.append(confirmed - placed)
    out.sent.append(sent - placed)
    out.recorded.append(recorded - placed)


def run_latency(shops: Sequence[FlowShop], rounds: int, warmup: int,
                poll_sleep_ms: float) -> LatencyResult:
    """Round by round, one order per platform, in an order that rotates every round."""
    samples = [LatencySamples(shop.mode) for shop in shops]
    for r in range(-warmup, rounds):
        k = r % len(shops)
        for i in [*range(k, len(shops)), *range(k)]:
            only(shops, shops[i])
            target = samples[i] if r >= 0 else LatencySamples(shops[i].mode)
            _one_order(shops[i], target, poll_sleep_ms / 1000)
            time.sleep(0.005)  # let the last offset-only deliveries of this order finish
        if r >= 0 and (r + 1) % max(1, rounds // 4) == 0:
            progress(f"  latency: {r + 1}/{rounds} rounds")
    return LatencyResult(samples, rounds, warmup, poll_sleep_ms)


def render_latency(result: LatencyResult) -> str:
    base = result.samples[0]
    medians = {name: Summary.of(getattr(base, name)).median_ms
               for name in ("confirmed", "sent", "recorded")}
    rows = []
    for s in result.samples:
        row = [s.mode.label, str(len(s.recorded)), fmt_ms(Summary.of(s.place).median_ms)]
        for name in ("confirmed", "sent", "recorded"):
            summary = Summary.of(getattr(s, name))
            row += [fmt_ms(summary.median_ms), fmt_ms(summary.p95_ms)]
        row += [fmt_ratio(Summary.of(s.confirmed).median_ms, medians["confirmed"]),
                fmt_ratio(Summary.of(s.recorded).median_ms, medians["recorded"]),
                str(s.errors)]
        rows.append(row)
    polls = sum(s.stats.polls for s in result.samples)
    orders = sum(len(s.recorded) for s in result.samples)
    rpc_ms = sum(s.stats.rpc_s for s in result.samples) / max(1, polls) * 1000
    return "\n\n".join([
        f"{result.rounds} rounds after {result.warmup} warm-up rounds; each round places one "
        f"order (one line, quantity 1, a product with plenty of stock) on each platform, in an "
        f"order that rotates every round, and waits for it before the next. The clock starts "
        f"when `orders.place_order` has answered (the order and its `order.placed` are "
        f"committed). **Confirmed**: orders committed the confirmation (two hops: inventory "
        f"reserves, orders confirms). **Sent**: email and SMS both committed their send "
        f"(three hops). **Recorded**: orders has both notifications in the order's timeline, "
        f"all {TIMELINE_ENTRIES} entries (four hops). Times in ms (p95: nearest rank); ratios "
        f"of medians against PUB/SUB.",
        table(["consumer mode", "orders", "place_order ms", "confirmed median",
               "confirmed p95", "sent median", "sent p95", "recorded median",
               "recorded p95", "confirmed vs PUB/SUB", "recorded vs PUB/SUB", "errors"], rows),
        f"How the benchmark sees it: confirmed and sent are the arrival of `order.confirmed` "
        f"and of both `notification.sent` events at a watcher thread following the "
        f"publishers in PUB/SUB mode (each event commits with the state it announces; the "
        f"relay publishes right after the commit, so these times include the relay's read "
        f"of the outbox and the hop to the watcher, well under a millisecond of transport "
        f"plus the relay's query). Recorded publishes nothing, so it is polled: `get_order` "
        f"from the moment both notifications were sent, with a {result.poll_sleep_ms:g} ms "
        f"sleep between calls. One `get_order` took {rpc_ms:.2f} ms on average "
        f"({polls / max(1, orders):.1f} calls per order), so recorded is late by up to one "
        f"call plus the sleep, and the calls compete with the orders consumer they wait for. "
        f"Polling `get_order` every 1-2 ms from the start instead would keep the orders "
        f"process busy the whole time and slow the very hops being measured.",
    ])


# --- part 2: throughput -------------------------------------------------------------------

@dataclass
class ThroughputRun:
    """One mode's throughput, summed over its batches."""

    mode: Mode
    orders: int = 0
    place_s: float = 0.0  # placing the orders, one client, one after another
    confirmed_s: float = 0.0  # from a batch's first place_order to its last confirmed
    sent_s: float = 0.0  # ... to its last order's second notification sent
    recorded_s: float = 0.0  # ... to its last order's fifth timeline entry
    cpu_s: float = 0.0  # CPU of the five services during the batches
    complete: bool = True  # every batch done and settled


@dataclass
class ThroughputResult:
    runs: list[ThroughputRun]
    deliveries: int
    idle: dict[str, float]  # mode key -> cores used by the idle platform
    idle_seconds: float
    batches: int


def measure_idle(shops: Sequence[FlowShop], seconds: float) -> dict[str, float]:
    """CPU each platform uses doing nothing (heartbeats; fetching for the fetch-only ones),
    one platform at a time with the others frozen."""
    idle = {}
    for shop in shops:
        only(shops, shop, settle_s=0.5)
        before = shop.cpu()
        start = time.monotonic()
        time.sleep(seconds)
        idle[shop.mode.key] = (shop.cpu() - before) / (time.monotonic() - start)
    return idle


def _batch(shop: FlowShop, run: ThroughputRun, orders: int, timeout: float = 60.0) -> None:
    """Place `orders` on an idle platform and wait until the last one is done; adds the
    times to `run` (batches start idle, so their times add up)."""
    cpu0 = shop.cpu()
    start = time.perf_counter()
    last = 0
    for _ in range(orders):
        last = shop.place()
    placed = time.perf_counter() - start
    # Events of one publisher are applied in sequence order, so the last order confirmed
    # means all are, and its notifications sent and recorded means all of theirs are.
    deadline = start + timeout
    confirmed = shop.watcher.confirmed(last, deadline - time.perf_counter())
    sent = shop.watcher.notified(last, max(0.0, deadline - time.perf_counter()))
    recorded = shop.recorded(last, deadline, PollStats(), 0.005) if sent else None
    run.cpu_s += shop.cpu() - cpu0
    run.orders += orders
    run.place_s += placed
    nan = float("nan")
    run.confirmed_s += confirmed - start if confirmed is not None else nan
    run.sent_s += sent - start if sent is not None else nan
    run.recorded_s += recorded - start if recorded is not None else nan
    run.complete = run.complete and recorded is not None and shop.settled(timeout=10)


def run_throughput(shops: Sequence[FlowShop], orders: int,
                   batches: int = 4) -> list[ThroughputRun]:
    """`orders` per mode in `batches` batches, modes interleaved batch by batch (ABC CBA
    ...), so a change in the machine's load falls on every mode alike."""
    runs = [ThroughputRun(shop.mode) for shop in shops]
    size = max(1, orders // batches)
    for b in range(batches):
        order = list(range(len(shops)))
        for i in (order if b % 2 == 0 else order[::-1]):
            shop = shops[i]
            only(shops, shop, settle_s=0.3)  # thawed after a while: let it reconnect
            for _ in range(2):  # untimed: every consumer awake and level
                shop.place()
            shop.settled()
            _batch(shop, runs[i], size)
        progress(f"  throughput: batch {b + 1}/{batches} ({size} orders per mode) done")
    for shop in shops:
        shop.freeze(False)
    return runs


def _per_s(count: float, seconds: float) -> str:
    return "n/a" if not seconds > 0 else f"{count / seconds:.0f}"


def render_throughput(result: ThroughputResult) -> str:
    rows = []
    for run in result.runs:
        secs = run.recorded_s
        rows.append([
            run.mode.label, str(run.orders), _per_s(run.orders, run.place_s),
            f"{run.confirmed_s:.2f}", f"{run.sent_s:.2f}", f"{secs:.2f}",
            _per_s(run.orders, secs), _per_s(run.orders * len(ORDER_EVENTS), secs),
            _per_s(run.orders * result.deliveries, secs),
            f"{run.cpu_s / run.orders * 1000:.1f}",
            f"{result.idle.get(run.mode.key, float('nan')):.2f}",
            "yes" if run.complete else "NO"])
    topics = ", ".join(dict.fromkeys(t for t, _ in ORDER_EVENTS))
    return "\n\n".join([
        f"One client places the orders one after another as fast as `place_order` answers "
        f"(while the platform is already working through the first ones), then waits for the "
        f"last order to be confirmed, sent and recorded (seen as in part 1). Events of one "
        f"publisher are applied in order, so the last order done means every order is done; "
        f"settled is checked afterwards: every order confirmed, one email and one SMS each. "
        f"Each mode's orders go in {result.batches} batches, the modes interleaved batch by "
        f"batch in alternating order and the other platforms frozen; each batch starts idle, "
        f"and the seconds are the batches' times (from their first `place_order`) added up. "
        f"Each order publishes {len(ORDER_EVENTS)} events ({topics}) and makes "
        f"{result.deliveries} consumer transactions (every follower of a publisher applies "
        f"each of its events, most only moving their offset); events/s and deliveries/s are "
        f"over the recorded time. CPU: the five service processes during the run. Idle: CPU "
        f"the platform used while nobody ordered anything, over {result.idle_seconds:g} s "
        f"with the other platforms frozen, in cores (1.00 = one core busy).",
        table(["consumer mode", "orders", "placed/s", "all confirmed s", "all sent s",
               "all recorded s", "orders/s", "events/s", "deliveries/s", "CPU ms per order",
               "idle CPU (cores)", "settled"], rows),
    ])
