"""Chaos soak: shoppers browse and buy while a monkey kills (SIGKILL) or freezes (SIGSTOP)
random processes of a running platform; `zeroshop up` restarts them. Afterwards every
invariant of the platform's promise is checked (see invariants.py).

    report = run_chaos(lambda: running.read(data_dir), ChaosOptions(duration_s=60), print)
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.config import ALL_SERVICES
from shared.messaging import Keyring, RpcError
from shared.running import RunningPlatform

from .faults import Fault, Monkey
from .invariants import Inspector, Verdict, check
from .load import Shoppers, Tally
from .scratch import all_ready


@dataclass(frozen=True)
class ChaosOptions:
    duration_s: float = 60.0
    interval_s: float = 5.0  # one fault this often
    stop_share: float = 0.2  # of the faults, this share are SIGSTOP (the rest SIGKILL)
    stop_s: tuple[float, float] = (1.0, 3.0)  # how long a SIGSTOP lasts
    browsers: int = 3
    buyers: int = 2
    victims: tuple[str, ...] = (*ALL_SERVICES, "gateway")
    seed: int = field(default_factory=lambda: random.randrange(1 << 30))
    settle_s: float = 90.0  # after the run: time for restarts, orders and notifications


@dataclass(frozen=True)
class Report:
    options: ChaosOptions
    seconds: float
    tally: Tally
    faults: list[Fault]
    orders: int
    verdicts: list[Verdict]

    @property
    def held(self) -> bool:
        return all(v.held for v in self.verdicts)


class NotRunning(RuntimeError):
    """No platform to soak: `zeroshop up` is not running (or not yet ready)."""


def run_chaos(read_platform: Callable[[], RunningPlatform | None], options: ChaosOptions,
              say: Callable[[str], None], keys: Keyring | None = None) -> Report:
    platform = _wait_until_ready(read_platform, 30.0)
    inspector = Inspector(platform.endpoints(), keys)
    rng = random.Random(options.seed)
    monkey = Monkey(read_platform, options.victims, options.interval_s, options.stop_share,
                    options.stop_s, rng)
    shoppers = Shoppers(platform.gateway_url, options.browsers, options.buyers, options.seed,
                        uuid.uuid4().hex[:8])
    try:
        inspector.wait_quiet(30.0)
        before = inspector.snapshot()
        say(f"chaos: {options.duration_s:.0f} s against {platform.gateway_url}, a fault every "
            f"{options.interval_s:g} s (seed {options.seed})")
        started = time.monotonic()
        shoppers.start()
        _soak(monkey, shoppers.tally, started, options, say)
        monkey.thaw_all()
        say(f"chaos: load stopped after {time.monotonic() - started:.0f} s; letting the "
            f"platform settle (up to {options.settle_s:.0f} s) ...")
        shoppers.stop(grace_s=min(30.0, options.settle_s))
        platform_after = _back(read_platform, options.settle_s)
        try:
            orders = inspector.settle(before, options.settle_s)
            verdicts = check(inspector, before, orders, shoppers.tally, platform_after)
        except RpcError as exc:  # a service that never came back cannot be checked
            orders, verdicts = [], [Verdict("every service answers the checks", False,
                                            f"{exc.service}: {exc.code}: {exc.message}")]
        return Report(options, time.monotonic() - started, shoppers.tally, monkey.faults,
                      len(orders), verdicts)
    finally:
        monkey.thaw_all()
        inspector.close()


def _soak(monkey: Monkey, tally: Tally, started: float, options: ChaosOptions,
          say: Callable[[str], None]) -> None:
    next_fault = started + options.interval_s
    next_line = started + 5.0
    end = started + options.duration_s
    while (now := time.monotonic()) < end:
        if now >= next_fault:
            fault = monkey.strike(now - started)
            if fault is not None:
                say(f"  {fault.at_s:5.1f} s  {fault.kind:<4} {fault.victim} (pid {fault.pid})")
            next_fault += options.interval_s
        if now >= next_line:
            with tally.lock:
                say(f"  {now - started:5.0f} s  pages {sum(tally.pages.values())}, "
                    f"orders accepted {len(tally.accepted)}, 503s "
                    f"{tally.pages[503] + tally.orders[503]}, faults {len(monkey.faults)}")
            next_line += 5.0
        time.sleep(min(0.1, max(0.0, end - now)))


def _wait_until_ready(read_platform: Callable[[], RunningPlatform | None],
                      within_s: float) -> RunningPlatform:
    end = time.monotonic() + within_s
    while True:
        platform = read_platform()
        if platform is not None and all_ready(platform):
            return platform
        if time.monotonic() > end:
            raise NotRunning("no ready platform: start one with `make run` (or use --scratch)"
                             if platform is None else "the platform is not ready: " +
                             ", ".join(f"{n} {p.detail}" for n, p in platform.processes.items()))
        time.sleep(0.1)


def _back(read_platform: Callable[[], RunningPlatform | None],
          within_s: float) -> RunningPlatform | None:
    """The platform once every process is ready again (or as it is after `within_s`)."""
    try:
        return _wait_until_ready(read_platform, within_s)
    except NotRunning:
        return read_platform()
