"""Test support: start real service processes on free ports, wait with deadlines, clean up."""

from __future__ import annotations

import importlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shared.config import ALL_SERVICES, DEFAULT_PORTS, free_port, loopback_env
from shared.db import make_engine
from shared.events.models import EventsBase
from shared.messaging import Call, Keyring, RpcClient, RpcError, new_context
from shared.supervisor import ProcessGroup

T = TypeVar("T")


@contextmanager
def memory_sessions() -> Iterator[Callable[[str], Session]]:
    """`session_for(service)`: a session on a fresh in-memory SQLite database holding that
    service's tables and the event tables (for handlers called directly); all closed after."""
    opened: list[tuple[Engine, Session]] = []

    def session_for(service: str) -> Session:
        engine = make_engine("sqlite:///:memory:")
        for metadata in (importlib.import_module(f"services.{service}.models").Base.metadata,
                         EventsBase.metadata):
            metadata.create_all(engine)
        db = Session(engine, expire_on_commit=False)
        opened.append((engine, db))
        return db

    try:
        yield session_for
    finally:
        for engine, db in opened:
            db.close()
            engine.dispose()


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """An environment where every service has free loopback ports and uses `data_dir`, and
    the gateway has no rate limits (pass ZEROSHOP_RATE_LIMIT="on" to test them)."""
    env = loopback_env(os.environ, data_dir)
    env.update(GATEWAY_PORT="0", ZEROSHOP_LOG_LEVEL="WARNING", ZEROSHOP_HEARTBEAT_MS="200")
    # Tests and benchmarks flood the gateway on purpose; tests of the limits turn them on.
    env.update(ZEROSHOP_RATE_LIMIT="off")
    env.update(extra)
    return env


class Platform:
    """Real processes: the services asked for, and the gateway when `gateway=True`."""

    def __init__(self, data_dir: Path, services: Iterable[str] = ALL_SERVICES,
                 gateway: bool = True, **env: str) -> None:
        self.env = base_env(data_dir, **env)
        self.group = ProcessGroup()
        self._client: RpcClient | None = None
        self._ctx: Any = None
        self.endpoints: dict[str, str] = {}
        try:
            started = self.group.start_all([(n, f"services.{n}") for n in services], self.env)
            self.endpoints.update({child.name: child.endpoint for child in started})
            if gateway:
                self.url = self.group.start("gateway", "gateway", self.env).endpoint
        except BaseException:
            self.close()
            raise

    def start(self, name: str, **env: str) -> str:
        """(Re)start one service, with extra `env` if given; it binds the same ports again."""
        child = self.group.start(name, f"services.{name}", {**self.env, **env})
        self.endpoints[name] = child.endpoint
        return child.endpoint

    def stop(self, name: str, sig: int) -> int | None:
        """Send `sig` and wait for the process to exit; returns its exit code."""
        return self.group.stop(name, sig)

    def signal(self, name: str, sig: int) -> None:
        """Send `sig` without waiting (SIGSTOP/SIGCONT make a hung service and wake it)."""
        self.group.children[name].process.send_signal(sig)

    def pid(self, name: str) -> int:
        return self.group.pid(name)

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, Any]:
        """GET `path` from the gateway: (status, decoded JSON body)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None,
             timeout: float = 10.0) -> tuple[int, Any, dict[str, str]]:
        """POST JSON to the gateway: (status, decoded body, response headers)."""
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read()), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read()), dict(exc.headers)

    def call(self, service: str, method: str, params: Any | None = None,
             timeout_ms: int = 5000) -> Any:
        """Call a service over its real socket; returns the decoded result (raises RpcError)."""
        if self._client is None:
            folder = self.env.get("ZEROSHOP_CURVE_KEYS")  # CURVE on: call with the CLI's key
            self._ctx = new_context(Keyring.load(Path(folder), "cli") if folder else None)
            self._client = RpcClient(self._ctx, self.env_endpoints())
        # A restarted service takes a moment to be reconnected (zmq backs off up to 1 s).
        end = time.monotonic() + timeout_ms / 1000
        while True:
            remaining = max(1, int((end - time.monotonic()) * 1000))
            try:
                return self._client.call(Call(service, method, params or {}, Any), remaining)
            except RpcError as exc:
                if exc.code != "unavailable" or time.monotonic() >= end:
                    raise
                time.sleep(0.02)

    def env_endpoints(self) -> dict[str, str]:
        return {name: self.env[f"{name.upper()}_ENDPOINT"] for name in DEFAULT_PORTS}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._ctx.term()
            self._client = None
        self.group.stop_all()


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02,
             what: str = "condition") -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET a Prometheus /metrics page: {(sample name, its labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def sample(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
           **labels: str) -> float | None:
    """The value of the sample `name` with exactly `labels`, or None if there is none."""
    return samples.get((name, frozenset(labels.items())))


def metrics_ports(services: Iterable[str] = ALL_SERVICES) -> dict[str, str]:
    """Environment giving each of `services` a free side port for its /metrics."""
    return {f"{name.upper()}_METRICS_PORT": str(free_port()) for name in services}
