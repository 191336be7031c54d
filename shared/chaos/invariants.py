"""What a chaos run must leave true, checked over the services' own RPC: every accepted
order settled and no other order made, stock moved by exactly the confirmed quantities, one
email and one SMS per settled order, no dead letters, every process back, no answer outside
the contract."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from shared.catalog_seed import PRODUCT_COUNT
from shared.contracts import SERVICES
from shared.messaging import Call, Keyring, RpcClient, RpcError, new_context
from shared.restarts import READY
from shared.running import RunningPlatform

from .load import Tally

CHANNELS = ("email", "sms")
CONSUMERS = tuple(sorted(name for name, c in SERVICES.items() if c.consumes))


@dataclass(frozen=True)
class Snapshot:
    stock: dict[int, int]
    last_order_id: int
    sent: dict[str, int]  # notifications sent so far, per channel
    dead_letters: dict[str, int]  # unreplayed, per consumer


@dataclass(frozen=True)
class Verdict:
    invariant: str
    held: bool
    detail: str


@dataclass(frozen=True)
class RunOrder:
    order_id: int
    status: str
    lines: tuple[tuple[int, int], ...]  # (product_id, quantity)


class Inspector:
    """Reads the platform's state; every call is retried while its service restarts."""

    def __init__(self, endpoints: dict[str, str], keys: Keyring | None = None) -> None:
        self._ctx = new_context(keys)  # with CURVE on, the CLI's keys
        self._client = RpcClient(self._ctx, endpoints)

    def close(self) -> None:
        self._client.close()
        self._ctx.term()

    def call(self, service: str, method: str, params: dict[str, Any],
             within_s: float = 60.0) -> Any:
        end = time.monotonic() + within_s
        while True:
            try:
                return self._client.call(Call(service, method, params, Any), 2000)
            except RpcError as exc:
                if exc.code not in ("timeout", "unavailable") or time.monotonic() > end:
                    raise
                time.sleep(0.1)  # restarting: ask again shortly

    def snapshot(self) -> Snapshot:
        stock: dict[int, int] = {}
        ids = list(range(1, PRODUCT_COUNT + 1))
        for start in range(0, len(ids), 100):
            items = self.call("inventory", "get_many", {"product_ids": ids[start:start + 100]})
            stock.update({s["product_id"]: s["available"] for s in items["items"]})
        newest = self.call("orders", "list_orders", {"page_size": 1})["items"]
        return Snapshot(
            stock=stock, last_order_id=newest[0]["order_id"] if newest else 0,
            sent={c: self.call(c, "list_sent", {"limit": 1})["total"] for c in CHANNELS},
            dead_letters={c: len(self.call(c, "dead_letters", {})["items"]) for c in CONSUMERS})

    def wait_quiet(self, within_s: float) -> None:
        """Wait until no order is pending, so the snapshot's stock is a settled one."""
        end = time.monotonic() + within_s
        while self.call("orders", "list_orders", {"status": "pending", "page_size": 1})["total"]:
            if time.monotonic() > end:
                raise RuntimeError("orders placed before the run are still pending; "
                                   "a soak needs a quiet platform to start from")
            time.sleep(0.2)

    def orders_since(self, last_order_id: int) -> list[RunOrder]:
        found: list[RunOrder] = []
        page = 1
        while True:
            items = self.call("orders", "list_orders", {"page": page, "page_size": 100})["items"]
            fresh = [o["order_id"] for o in items if o["order_id"] > last_order_id]
            for order_id in fresh:
                order = self.call("orders", "get_order", {"order_id": order_id})
                found.append(RunOrder(order_id, order["status"], tuple(
                    (line["product_id"], line["quantity"]) for line in order["lines"])))
            if len(fresh) < len(items) or len(items) < 100:
                return sorted(found, key=lambda o: o.order_id)
            page += 1

    def settle(self, before: Snapshot, within_s: float) -> list[RunOrder]:
        """Wait until every order of the run left `pending` and its notifications went out."""
        end = time.monotonic() + within_s
        while True:
            orders = self.orders_since(before.last_order_id)
            settled = sum(o.status != "pending" for o in orders)
            sent = {c: self.call(c, "list_sent", {"limit": 1})["total"] - before.sent[c]
                    for c in CHANNELS}
            if (settled == len(orders) and all(n >= settled for n in sent.values())) \
                    or time.monotonic() > end:
                return orders
            time.sleep(0.5)


def _verdict(invariant: str, problems: list[str], fine: str) -> Verdict:
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)"
                                           if len(problems) > 5 else "")
        return Verdict(invariant, False, shown)
    return Verdict(invariant, True, fine)


def check(inspector: Inspector, before: Snapshot, orders: list[RunOrder], tally: Tally,
          platform: RunningPlatform | None) -> list[Verdict]:
    after = inspector.snapshot()
    by_id = {o.order_id: o for o in orders}
    settled = [o for o in orders if o.status != "pending"]
    confirmed = Counter[int]()
    for order in orders:
        if order.status == "confirmed":
            for product_id, quantity in order.lines:
                confirmed[product_id] += quantity
    verdicts = [
        _verdict("every accepted order settled",
                 [f"order {o.order_id} is still pending" for o in orders if o.status == "pending"]
                 + [f"order {i} ({k}) was accepted but does not exist"
                    for k, i in tally.accepted.items() if i not in by_id],
                 f"{len(settled)} orders: {sum(o.status == 'confirmed' for o in orders)} "
                 f"confirmed, {sum(o.status == 'rejected' for o in orders)} rejected"),
        _verdict("stock dropped by exactly the confirmed quantities",
                 [f"product {p}: {before.stock[p]} -> {after.stock.get(p)}, "
                  f"confirmed {confirmed[p]}" for p in sorted(before.stock)
                  if before.stock[p] - after.stock.get(p, 0) != confirmed[p]],
                 f"{sum(confirmed.values())} units over {len(confirmed)} products"),
        _verdict("no order but those accepted, each once", _unaccounted(by_id, tally),
                 f"{len(by_id)} orders, one per accepted key"),
        _verdict("no stock below zero",
                 [f"product {p}: {n}" for p, n in after.stock.items() if n < 0], "none"),
    ]
    for channel in CHANNELS:
        problems = []
        for order in settled:
            count = inspector.call(channel, "list_sent", {"order_id": order.order_id})["total"]
            if count != 1:
                problems.append(f"order {order.order_id}: {count}")
        extra = after.sent[channel] - before.sent[channel] - len(settled)
        if extra:
            problems.append(f"{extra:+d} {channel} beyond one per settled order")
        verdicts.append(_verdict(f"one {channel} per settled order", problems,
                                 f"{len(settled)} sent"))
    verdicts += [
        _verdict("no dead letters",
                 [f"{c}: {after.dead_letters[c] - before.dead_letters[c]} new"
                  for c in CONSUMERS if after.dead_letters[c] > before.dead_letters[c]], "none"),
        _verdict("no 5xx but the documented 503s, no other surprise", tally.surprises,
                 f"pages {_statuses(tally.pages)}; orders {_statuses(tally.orders)}"),
        _verdict("every order a buyer placed was accepted in the end",
                 [f"{k} never accepted" for k in tally.given_up],
                 f"{len(tally.accepted)} accepted"),
        _verdict("every process is back", _not_back(inspector, platform), "all ready"),
    ]
    return verdicts


def _unaccounted(by_id: dict[int, RunOrder], tally: Tally) -> list[str]:
    """An order no buyer was told of, or one two keys were told of, is a buyer charged twice
    (or for nothing): a retry that made a second order instead of finding the first."""
    told = Counter(tally.accepted.values())
    return ([f"order {i} ({o.status}, lines {list(o.lines)}) was never accepted by a buyer"
             for i, o in sorted(by_id.items()) if i not in told]
            + [f"order {i} was accepted for {n} keys" for i, n in sorted(told.items()) if n > 1])


def _statuses(counts: Counter[int]) -> str:
    return ", ".join(f"{n} x {s}" for s, n in sorted(counts.items())) or "none"


def _not_back(inspector: Inspector, platform: RunningPlatform | None) -> list[str]:
    if platform is None:
        return ["zeroshop up is not running"]
    problems = [f"{n}: {p.detail}" for n, p in platform.processes.items() if p.state != READY]
    for name in platform.endpoints():
        try:
            inspector.call(name, "health", {}, within_s=5)
        except RpcError as exc:
            problems.append(f"{name}: health {exc.code}")
    return problems
