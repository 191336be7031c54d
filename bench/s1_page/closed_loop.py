"""A closed-loop HTTP load: N client threads, each with its own keep-alive connection,
asking for product pages one after another for a fixed time (a new page as soon as the
last one answered), with the CPU every process of the arm used meanwhile (from /proc)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.catalog_seed import PRODUCT_COUNT

from ..common import HttpSession, cpu_seconds


@dataclass(frozen=True)
class Load:
    """What one arm did at one concurrency for one timed stretch."""

    pages: int  # complete pages (200, nothing degraded)
    errors: int  # anything else
    seconds: float
    latencies: list[float]  # seconds, complete pages only
    cpu_by_process: dict[str, float]  # seconds, per process (or gunicorn and its workers)

    @property
    def cpu_seconds(self) -> float:
        """Summed over every process of the arm."""
        return sum(self.cpu_by_process.values())

    @property
    def per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else float("nan")


Processes = Mapping[str, Sequence[int]]  # name -> its pids (a gunicorn: master and workers)


def arm_cpu(processes: Processes) -> dict[str, float]:
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in processes.items()}


def run(url: str, clients: int, seconds: float, processes: Processes, seed: int) -> Load:
    """`clients` threads on `url` for `seconds`; random product ids from `seed`."""
    ready = threading.Barrier(clients + 1)
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def work(slot: int) -> None:
        session = HttpSession(url)
        ids = random.Random(seed * 1000 + slot)
        try:
            ready.wait()
            while not stop.is_set():
                pid = ids.randint(1, PRODUCT_COUNT)
                start = time.perf_counter()
                ok = session.page_ok(pid)
                if ok:
                    latencies[slot].append(time.perf_counter() - start)
                else:
                    errors[slot] += 1
        except threading.BrokenBarrierError:
            return
        finally:
            session.close()

    threads = [threading.Thread(target=work, args=(slot,), daemon=True)
               for slot in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=30)
        cpu_before, start = arm_cpu(processes), time.perf_counter()
        stop.wait(seconds)  # the clients work meanwhile; nothing to poll for
    finally:
        stop.set()
        ready.abort()
        for thread in threads:
            thread.join(timeout=15)
    elapsed = time.perf_counter() - start
    cpu = {name: used - cpu_before[name] for name, used in arm_cpu(processes).items()}
    # Pages that finished after the stop still ran on the clock and the CPU above.
    done = [x for per_thread in latencies for x in per_thread]
    return Load(len(done), sum(errors), elapsed, done, cpu)
