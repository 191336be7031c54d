"""Test support: start real service processes on free ports, wait with deadlines, clean up."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from shared.config import ALL_SERVICES, DEFAULT_PORTS, EVENT_PORTS
from shared.supervisor import ProcessGroup

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """An environment where every service has free loopback ports and uses `data_dir`.

    Ports are picked up front (not "*"), because consumers must know where their
    publishers will be before those start, and a restarted service binds the same port.
    """
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_BIND", "_ENDPOINT"))}
    for name in DEFAULT_PORTS:
        for suffix in ("", "_EVENTS") if name in EVENT_PORTS else ("",):
            address = f"tcp://127.0.0.1:{free_port()}"
            env[f"{name.upper()}{suffix}_BIND"] = address
            env[f"{name.upper()}{suffix}_ENDPOINT"] = address
    env.update(ZEROSHOP_DATA_DIR=str(data_dir), GATEWAY_PORT="0", ZEROSHOP_LOG_LEVEL="WARNING",
               ZEROSHOP_HEARTBEAT_MS="200")
    env.update(extra)
    return env


class Platform:
    """Real processes: the services asked for, and the gateway when `gateway=True`."""

    def __init__(self, data_dir: Path, services: Iterable[str] = ALL_SERVICES,
                 gateway: bool = True, **env: str) -> None:
        self.env = base_env(data_dir, **env)
        self.group = ProcessGroup()
        self.endpoints: dict[str, str] = {}
        try:
            started = self.group.start_all([(n, f"services.{n}") for n in services], self.env)
            self.endpoints.update({child.name: child.endpoint for child in started})
            if gateway:
                self.url = self.group.start("gateway", "gateway", self.env).endpoint
        except BaseException:
            self.close()
            raise

    def start(self, name: str) -> str:
        """(Re)start one service; later starts bind the same port again."""
        self.endpoints[name] = self.group.start(name, f"services.{name}", self.env).endpoint
        return self.endpoints[name]

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

    def close(self) -> None:
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
