"""Bench-only launcher: one real page service with injected latency, then its own main().

    BENCH_S2_SERVICE=pricing python -m bench.s2_stragglers.serve

Every request the service is about to answer first sleeps: BENCH_S2_IO_MS (2) of simulated
I/O, or BENCH_S2_SLOW_MS (20) for a seeded BENCH_S2_SLOW_SHARE (0.01) of calls. Not the
built-in `health` (the circuit breaker's probe), and not a request whose deadline has passed
(the runtime drops it unanswered before any handler runs). The sleep wraps the service's
dispatch, not its handlers, so a reply from the reply cache (answered before the handler
runs) pays the I/O too: every call costs the service its I/O. The injection lives here
only: shared/, services/ and gateway/ know nothing of it. The rest is the service as
shipped: its handlers, its database, its reply cache, its serve loop (one request at a time).
"""

from __future__ import annotations

import importlib
import os
import random
import time
import zlib
from collections.abc import Callable
from typing import Any

import msgspec

from shared.runtime.service import Service

SERVICE, IO_MS, SLOW_MS = "BENCH_S2_SERVICE", "BENCH_S2_IO_MS", "BENCH_S2_SLOW_MS"
SLOW_SHARE, SEED = "BENCH_S2_SLOW_SHARE", "BENCH_S2_SEED"


def straggler_delay(io_ms: float, slow_ms: float, slow_share: float,
                    rng: random.Random) -> Callable[[], float]:
    """Seconds of simulated I/O for the next call: usually io_ms, now and then slow_ms."""
    def delay() -> float:
        return (slow_ms if rng.random() < slow_share else io_ms) / 1000
    return delay


class _Head(msgspec.Struct):
    """The two fields of a request the injection looks at (the rest is ignored)."""

    method: str = ""
    deadline: float | None = None


def pays_io(body: bytes) -> bool:
    """Whether the service will do work for this request: not a probe, not given up on."""
    try:
        head = msgspec.json.decode(body, type=_Head)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False  # the runtime answers bad_request at once
    return head.method != "health" and (head.deadline is None or head.deadline >= time.time())


def inject(service: Service, delay: Callable[[], float]) -> None:
    """Make every answered request of `service` wait `delay()` seconds first."""
    dispatch = service.dispatch

    def dispatch_after_io(body: bytes, sessions: Any, caller: str | None = None) -> Any:
        if pays_io(body):
            time.sleep(delay())  # blocks the serve loop, as a synchronous handler's I/O would
        return dispatch(body, sessions, caller)

    service.dispatch = dispatch_after_io  # type: ignore[method-assign]  # run_service calls it


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
