"""S0's arms and how they are timed: every arm of a part runs a batch of calls (or pages)
for the same random product ids in each round, in an order that rotates round by round."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import zmq

from shared.catalog_seed import PRODUCT_COUNT
from shared.contracts.pricing import GetPrice, Price
from shared.messaging import Call, RpcClient, RpcError

from ..common import cpu_seconds, page_calls, percentile, progress, req_frame

TIMEOUT_MS = 1000  # generous: nothing here should time out; a timeout counts as an error
CLIENT = "client (this process)"

# One call or page for a product id; True when every answer came back ok.
Operation = Callable[[int], bool]


@dataclass(frozen=True)
class Arm:
    name: str
    run_one: Operation
    pids: Mapping[str, int]  # the arm's server processes by name (the client is measured too)


@dataclass(frozen=True)
class Batch:
    """One arm's operations in one round."""

    latencies: list[float]  # seconds, one per operation
    seconds: float  # wall time of the whole batch
    errors: int
    cpu: dict[str, float]  # CPU seconds per process over the batch, the client's included

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)


@dataclass
class Part:
    """Every batch of every arm of one part, and the figures the report reads."""

    arms: Sequence[str]
    batches: dict[str, list[Batch]] = field(default_factory=dict)

    def latencies(self, arm: str) -> list[float]:
        return [x for batch in self.batches[arm] for x in batch.latencies]

    def per_second(self, arm: str) -> float:
        batches = self.batches[arm]
        return sum(len(b.latencies) for b in batches) / sum(b.seconds for b in batches)

    def errors(self, arm: str) -> int:
        return sum(b.errors for b in self.batches[arm])

    def ratios(self, arm: str, baseline: str) -> list[float]:
        """The arm's p50 over the baseline's, round by round (below 1: the arm is faster)."""
        return [ours.p50 / theirs.p50 for ours, theirs in
                zip(self.batches[arm], self.batches[baseline], strict=True) if theirs.p50 > 0]

    def cpu_us(self, arm: str) -> dict[str, float]:
        """CPU microseconds per operation of each of the arm's processes, over every round."""
        batches = self.batches[arm]
        operations = sum(len(b.latencies) for b in batches) or 1
        return {name: sum(b.cpu[name] for b in batches) * 1e6 / operations
                for name in batches[0].cpu}


def run_batch(arm: Arm, ids: Sequence[int]) -> Batch:
    cpu_before = {name: cpu_seconds(pid) for name, pid in arm.pids.items()}
    client_before = time.process_time()  # every thread of this process (zmq's I/O too)
    latencies, errors = [], 0
    started = time.perf_counter()
    for product_id in ids:
        begin = time.perf_counter()
        ok = arm.run_one(product_id)
        latencies.append(time.perf_counter() - begin)
        errors += not ok
    seconds = time.perf_counter() - started
    cpu = {CLIENT: time.process_time() - client_before}
    cpu.update({name: cpu_seconds(pid) - cpu_before[name] for name, pid in arm.pids.items()})
    return Batch(latencies, seconds, errors, cpu)


def warm_up(arms: Sequence[Arm], what: str) -> None:
    """Every product once per arm: connections made, SQLite pages read, reply caches full,
    so the timed rounds see the steady state."""
    for arm in arms:
        progress(f"{what}: warm-up, every product once on {arm.name}")
        for product_id in range(1, PRODUCT_COUNT + 1):
            arm.run_one(product_id)


def interleave(arms: Sequence[Arm], rounds: int, per_round: int, seed: int,
               what: str) -> Part:
    """`rounds` rounds; in each, every arm runs the same `per_round` random product ids (a
    fixed seed), the arms in an order that rotates."""
    part = Part([arm.name for arm in arms], {arm.name: [] for arm in arms})
    ids = random.Random(seed)
    for number in range(rounds):
        batch_ids = [ids.randint(1, PRODUCT_COUNT) for _ in range(per_round)]
        for arm in [arms[(i + number) % len(arms)] for i in range(len(arms))]:
            part.batches[arm.name].append(run_batch(arm, batch_ids))
        medians = ", ".join(f"{a.name} {part.batches[a.name][-1].p50 * 1e6:.0f}" for a in arms)
        progress(f"{what}: round {number + 1}/{rounds}, p50 us: {medians}")
    return part


# --- the operations ---------------------------------------------------------------------

def zeroshop_price(rpc: RpcClient) -> Operation:
    """One pricing.get_price with ZeroShop's RpcClient, decoded into Price."""
    def one(product_id: int) -> bool:
        try:
            rpc.call(Call("pricing", "get_price", GetPrice(product_id=product_id), Price),
                     TIMEOUT_MS)
        except RpcError:
            return False
        return True
    return one


def zero_price(client: Any) -> Operation:
    """The same call with Zero's own client, as its README shows, decoded into Price."""
    from zero.error import ZeroException

    def one(product_id: int) -> bool:
        try:
            client.call("get_price", GetPrice(product_id=product_id), return_type=Price)
        except ZeroException:
            return False
        return True
    return one


def gathered_page(rpc: RpcClient) -> Operation:
    """The page's five calls at once: what the gateway does."""
    def one(product_id: int) -> bool:
        return all(o.ok for o in rpc.gather(page_calls(product_id), TIMEOUT_MS))
    return one


def sequential_page(rpc: RpcClient) -> Operation:
    """The same five calls one after another, same client."""
    def one(product_id: int) -> bool:
        return all([rpc.gather([call], TIMEOUT_MS)[0].ok for call in page_calls(product_id)])
    return one


class BareFanout:
    """The floor: one DEALER per bare ROUTER server, five requests sent at once, then each
    reply read in turn (the page is done when the last one is in). No ids, no deadlines,
    no decoding: only what any ZeroMQ fan-out must do."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoints: Sequence[str]) -> None:
        self._sockets = []
        for endpoint in endpoints:
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
            self._sockets.append(sock)

    def page(self, product_id: int) -> bool:
        frames = [req_frame(call) for call in page_calls(product_id)]  # the real requests
        for sock, frame in zip(self._sockets, frames, strict=True):
            sock.send(frame)
        return all([bool(sock.poll(TIMEOUT_MS)) and bool(sock.recv()) for sock in self._sockets])

    def close(self) -> None:
        for sock in self._sockets:
            sock.close(linger=0)
