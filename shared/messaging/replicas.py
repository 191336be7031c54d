"""Where a service's replicas are, and which of them are worth a call right now.

An endpoint names one replica (`tcp://host:port`), several (`tcp://a:5557,tcp://b:5557`), or
a DNS name that stands for all of them (`dns+tcp://pricing-replicas:5557`: a Kubernetes
headless Service), looked up again every few seconds so new pods get traffic and gone ones
are dropped.

Each replica has a circuit breaker. A replica that timed out, or has no live connection, is
skipped at once by the next calls instead of costing each of them its deadline; a `health`
probe is sent to it at most every PROBE_INTERVAL_S while it is skipped, and its first answer
(or any reply) lets calls through again. The breakers of one process are shared by all its
clients (one per thread), so one thread's timeout spares the others.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DNS_SCHEME = "dns+tcp://"
DNS_REFRESH_S = 5.0
PROBE_INTERVAL_S = 0.2
STANDBY_MEMORY_S = 2.0  # a replica that said "standby" is asked last for this long

Resolver = Callable[[str, int], list[str]]  # (host, port) -> ["tcp://ip:port", ...]


class BadEndpoint(ValueError):
    """An endpoint spec that names no replica, or a DNS form without a host and port."""


def resolve_dns(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6), as zmq endpoints, sorted."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []  # not there (yet): no replica now, looked up again later
    found = set()
    for family, _, _, _, address in infos:
        ip = str(address[0])
        found.add(f"tcp://[{ip}]:{port}" if family == socket.AF_INET6 else f"tcp://{ip}:{port}")
    return sorted(found)


class Replicas:
    """The replica addresses of one service, from its endpoint spec."""

    def __init__(self, spec: str, resolve: Resolver = resolve_dns,
                 refresh_s: float = DNS_REFRESH_S) -> None:
        self.spec = spec
        self._resolve = resolve
        self._refresh_s = refresh_s
        self._dns: tuple[str, int] | None = None
        self._static: list[str] = []
        self._addresses: list[str] = []
        self._resolved_at = float("-inf")
        if spec.startswith(DNS_SCHEME):
            parts = urlsplit("tcp://" + spec[len(DNS_SCHEME):])
            if not parts.hostname or parts.port is None:
                raise BadEndpoint(f"{spec!r}: expected {DNS_SCHEME}NAME:PORT")
            self._dns = (parts.hostname, parts.port)
        else:
            self._static = [part.strip() for part in spec.split(",") if part.strip()]
            if not self._static:
                raise BadEndpoint(f"{spec!r} names no endpoint")

    def addresses(self) -> list[str]:
        """The current replicas; a DNS name is looked up at most every `refresh_s`."""
        if self._dns is None:
            return self._static
        now = time.monotonic()
        if now - self._resolved_at >= self._refresh_s:
            self._resolved_at = now
            self._addresses = self._resolve(*self._dns)
        return self._addresses


@dataclass
class Breaker:
    """One replica's circuit: closed (calls go through) or open (calls skip it)."""

    open: bool = False
    opened_at: float = 0.0
    probe_at: float = 0.0  # when the next probe of an open circuit may be sent
    failures: int = 0  # times opened since the last success: for status and tests
    standby_until: float = 0.0  # a writer's standby replica: asked after the others
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def failed(self, now: float) -> None:
        with self.lock:
            if not self.open:
                self.open, self.opened_at, self.probe_at = True, now, now
            self.failures += 1

    def succeeded(self, standby_at: float | None = None) -> None:
        """It answered: alive. `standby_at`: it refused as a writer's standby at that time."""
        with self.lock:
            self.open, self.failures = False, 0
            self.standby_until = 0.0 if standby_at is None else standby_at + STANDBY_MEMORY_S

    def claim_probe(self, now: float) -> bool:
        """True for one caller per PROBE_INTERVAL_S while open: that caller sends the probe."""
        if not self.open:  # the usual case, on every call: no lock needed to see it
            return False
        with self.lock:
            if not self.open or now < self.probe_at:
                return False
            self.probe_at = now + PROBE_INTERVAL_S
            return True


class ReplicaHealth:
    """The breakers of every replica a process calls, shared by its clients (thread-safe)."""

    def __init__(self) -> None:
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def breaker(self, address: str) -> Breaker:
        breaker = self._breakers.get(address)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.setdefault(address, Breaker())
        return breaker

    def closed(self, addresses: Sequence[str]) -> list[str]:
        return [a for a in addresses if not self.breaker(a).open]

    def standbys_last(self, addresses: list[str], now: float) -> list[str]:
        """The same replicas, those that lately said they are a standby moved to the end."""
        standby = [a for a in addresses if self.breaker(a).standby_until > now]
        return [a for a in addresses if a not in standby] + standby if standby else addresses

    def open_addresses(self) -> list[str]:
        return sorted(a for a, b in self._breakers.items() if b.open)
