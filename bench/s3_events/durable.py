"""S3 parts 1 and 2: durable events fanned out to three committing consumers, one arm per
bus (bench/s3_events/zeroshop.py, bench/s3_events/rabbitmq.py), measured the same way.

Producers in this process (threads, each with its own connection: one, or several as the
many clients of a shop) each send one message after another, each durable before its next
(ZeroShop: `place_order` answered, the outbox row committed; RabbitMQ: the publisher
confirm arrived). Three consumer processes (bench/s3_events/sink.py) commit every message
to their own SQLite file and report the commit's time; a message counts once all three
have committed it. The sinks' clock (CLOCK_MONOTONIC) is this process's clock.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec
import zmq

from ..common import cpu_seconds, percentile
from .sink import READY, sequence_check

SINKS = ("consumer-1", "consumer-2", "consumer-3")
COLLECT_TIMEOUT_S = 60.0


class Collector:
    """The PULL socket every sink reports to: which keys each sink committed, and when."""

    def __init__(self, ctx: Any) -> None:
        self._socket = ctx.socket(zmq.PULL)
        self._socket.setsockopt(zmq.RCVHWM, 0)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind("tcp://127.0.0.1:*")
        self.endpoint: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._seen: dict[str, dict[int, float]] = {}

    def _drain(self, timeout_ms: int) -> None:
        if self._socket.poll(timeout_ms):
            while True:
                try:
                    name, at, keys = msgspec.msgpack.decode(self._socket.recv(zmq.NOBLOCK))
                except zmq.Again:
                    return
                seen = self._seen.setdefault(name, {})
                for key in keys:
                    seen.setdefault(key, at)  # a redelivery keeps the first commit

    def wait_ready(self, sinks: Sequence[str], timeout: float = 30.0) -> None:
        self.completed(sinks, [READY], timeout)

    def completed(self, sinks: Sequence[str], keys: Sequence[int],
                  timeout: float = COLLECT_TIMEOUT_S) -> dict[int, float]:
        """Wait until every sink has committed every key; per key, when the last one did.
        Keys still missing after `timeout` are left out (counted as lost by the caller)."""
        end = time.monotonic() + timeout
        missing = {(s, k) for s in sinks for k in keys}
        while missing and time.monotonic() < end:
            self._drain(50)
            missing = {(s, k) for s, k in missing if k not in self._seen.get(s, {})}
        done = {}
        for key in keys:
            times = [self._seen.get(s, {}).get(key) for s in sinks]
            if all(t is not None for t in times):
                done[key] = max(t for t in times if t is not None)
        return done

    def close(self) -> None:
        self._socket.close()


class Arm(Protocol):
    name: str
    reporters: list[str]  # the names its sinks report under (unique across arms)
    databases: dict[str, Path]  # sink name -> its SQLite file

    @property
    def sent(self) -> int: ...  # messages sent so far, warm-up included (the check expects them)

    def send(self) -> int: ...  # one durable message; returns its key

    def pids(self) -> dict[str, int]: ...  # the processes that do the arm's work

    def close(self) -> None: ...


def start_sink(kind: str, name: str, db: Path, report: str,
               *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.s3_events.sink", kind, name,
                             str(db), report, *options],
                            cwd=Path(__file__).resolve().parents[2])


def stop_sinks(sinks: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in sinks:
        if process.poll() is None:
            process.terminate()
    for process in sinks:
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- measuring ----------------------------------------------------------------------------------

def _cpu(arm: Arm) -> dict[str, float]:
    usage = {name: cpu_seconds(pid) for name, pid in arm.pids().items()}
    times = os.times()
    usage["producer (this process)"] = times.user + times.system
    return usage


@dataclass
class Round:
    """One arm's throughput round."""

    events: int
    seconds: float  # first send to the last message committed by all three sinks
    send_s: float  # the producer's calls alone
    lost: int
    cpu_s: dict[str, float]  # per process, during the round

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


def _send_all(arm: Arm, events: int, producers: int) -> list[int]:
    """`events` messages from `producers` threads, each sending its next once its last is
    durable."""
    if producers == 1:
        return [arm.send() for _ in range(events)]
    left = itertools.count()
    lock = threading.Lock()

    def produce() -> list[int]:
        keys: list[int] = []
        while True:
            with lock:
                if next(left) >= events:
                    return keys
            keys.append(arm.send())

    with ThreadPoolExecutor(producers, thread_name_prefix="producer") as pool:
        return [k for keys in pool.map(lambda _: produce(), range(producers)) for k in keys]


def throughput_round(arm: Arm, collector: Collector, events: int, producers: int = 1) -> Round:
    cpu0 = _cpu(arm)
    start = time.monotonic()
    keys = _send_all(arm, events, producers)
    sent = time.monotonic()
    done = collector.completed(arm.reporters, keys)
    end = max(done.values(), default=start)
    cpu1 = _cpu(arm)
    return Round(len(done), end - start, sent - start, events - len(done),
                 {name: cpu1[name] - cpu0[name] for name in cpu0})


@dataclass
class Paced:
    """One arm's paced latencies: from each message's scheduled send time to its commit by
    all three sinks (a producer that falls behind does not hide the wait: coordinated
    omission is counted)."""

    rate: float
    latencies: list[float] = field(default_factory=list)
    send: list[float] = field(default_factory=list)  # the producer's call alone
    lost: int = 0
    unsent: int = 0  # due within the round but not sent by its end (the producer fell behind)
    achieved: list[float] = field(default_factory=list)  # messages/s actually sent

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000 if self.latencies else float("nan")


def paced_round(arm: Arm, collector: Collector, rate: float, seconds: float,
                out: Paced, producers: int = 1) -> None:
    """Event i is due at start + i / rate; the next free producer sends it at that time
    (or at once when late: the wait counts)."""
    count = max(1, int(rate * seconds))
    start = time.monotonic() + 0.01
    end = start + seconds  # a producer behind schedule stops here: the round keeps its length
    scheduled: dict[int, float] = {}
    lock = threading.Lock()
    upcoming = iter(range(count))

    def produce() -> None:
        while True:
            with lock:
                i = next(upcoming, None)
            if i is None:
                return
            at = start + i / rate
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif time.monotonic() > end:
                with lock:
                    out.unsent += 1
                continue
            before = time.monotonic()
            key = arm.send()
            took = time.monotonic() - before
            with lock:
                out.send.append(took)
                scheduled[key] = at

    if producers == 1:
        produce()
    else:
        with ThreadPoolExecutor(producers, thread_name_prefix="producer") as pool:
            list(pool.map(lambda _: produce(), range(producers)))
    out.achieved.append(len(scheduled) / (time.monotonic() - start))
    done = collector.completed(arm.reporters, list(scheduled))
    out.latencies += [done[k] - scheduled[k] for k in scheduled if k in done]
    out.lost += len(scheduled) - len(done)


@dataclass
class SequenceCheck:
    """After the run: every sink's rows, by sequence number."""

    sink: str
    rows: int
    low: int
    high: int
    expected: int

    @property
    def ok(self) -> bool:
        # No gap (rows fill low..high exactly: the seq is the primary key, so no duplicate)
        # and nothing missing.
        return self.rows == self.expected and self.high - self.low + 1 == self.rows


def check_sequences(arm: Arm) -> list[SequenceCheck]:
    return [SequenceCheck(name, *sequence_check(path), arm.sent)
            for name, path in arm.databases.items()]
