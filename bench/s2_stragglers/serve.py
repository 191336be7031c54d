"""Bench-only launcher: one real page service with injected latency, then its own main().

    BENCH_S2_SERVICE=pricing python -m bench.s2_stragglers.serve

Every RPC handler the service registered (not the built-in `health`, which the circuit
breaker's probes use) first sleeps: BENCH_S2_IO_MS (2) of simulated I/O, or
BENCH_S2_SLOW_MS (20) for a seeded BENCH_S2_SLOW_SHARE (0.01) of calls. The injection lives
here only: shared/, services/ and gateway/ know nothing of it. The rest is the service as
shipped: its real handler, its database, its serve loop (one request at a time).
"""

from __future__ import annotations

import importlib
import os
import random
import time
import zlib
from collections.abc import Callable
from typing import Any

from shared.runtime.service import Handler, Service

SERVICE, IO_MS, SLOW_MS = "BENCH_S2_SERVICE", "BENCH_S2_IO_MS", "BENCH_S2_SLOW_MS"
SLOW_SHARE, SEED = "BENCH_S2_SLOW_SHARE", "BENCH_S2_SEED"


def straggler_delay(io_ms: float, slow_ms: float, slow_share: float,
                    rng: random.Random) -> Callable[[], float]:
    """Seconds of simulated I/O for the next call: usually io_ms, now and then slow_ms."""
    def delay() -> float:
        return (slow_ms if rng.random() < slow_share else io_ms) / 1000
    return delay


def _delayed(handler: Handler, delay: Callable[[], float]) -> Handler:
    def handler_after_io(params: Any, **extra: Any) -> Any:
        # Before the real work, so no database transaction stays open while "waiting".
        time.sleep(delay())
        return handler(params, **extra)
    return handler_after_io


def inject(service: Service, delay: Callable[[], float]) -> list[str]:
    """Wrap every registered RPC handler of `service` (not `health`); returns their names."""
    wrapped = []
    for name, entry in list(service.handlers.items()):
        if name == "health":
            continue
        # Registered keeps the original's parameter names: the runtime still passes db etc.
        service.handlers[name] = entry._replace(handler=_delayed(entry.handler, delay))
        wrapped.append(name)
    return wrapped


def main() -> None:
    name = os.environ[SERVICE]
    seed = int(os.environ.get(SEED, "2")) + zlib.crc32(name.encode())  # one stream per service
    delay = straggler_delay(float(os.environ.get(IO_MS, "2")),
                            float(os.environ.get(SLOW_MS, "20")),
                            float(os.environ.get(SLOW_SHARE, "0.01")), random.Random(seed))
    service_main = importlib.import_module(f"services.{name}.__main__")
    inject(importlib.import_module(f"services.{name}.service").svc, delay)
    service_main.main()


if __name__ == "__main__":
    main()
