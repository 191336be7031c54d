"""Test support: start real service processes on free ports, wait with deadlines, clean up."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from shared.config import PAGE_SERVICES
from shared.supervisor import ProcessGroup

T = TypeVar("T")


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """An environment where every service binds a free loopback port and uses `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_BIND", "_ENDPOINT"))}
    env.update({f"{name.upper()}_BIND": "tcp://127.0.0.1:*" for name in PAGE_SERVICES})
    env.update(ZEROSHOP_DATA_DIR=str(data_dir), GATEWAY_PORT="0", ZEROSHOP_LOG_LEVEL="WARNING")
    env.update(extra)
    return env


class Platform:
    """Real processes: the services asked for, and the gateway when `gateway=True`."""

    def __init__(self, data_dir: Path, services: Iterable[str] = PAGE_SERVICES,
                 gateway: bool = True, **env: str) -> None:
        self.env = base_env(data_dir, **env)
        self.group = ProcessGroup()
        self.endpoints: dict[str, str] = {}
        try:
            started = self.group.start_all([(n, f"services.{n}") for n in services], self.env)
            for child in started:
                self._remember(child.name, child.endpoint)
            if gateway:
                self.url = self.group.start("gateway", "gateway", self.env).endpoint
        except BaseException:
            self.close()
            raise

    def start(self, name: str) -> str:
        """(Re)start one service; later starts bind the same port again."""
        endpoint = self.group.start(name, f"services.{name}", self.env).endpoint
        self._remember(name, endpoint)
        return endpoint

    def _remember(self, name: str, endpoint: str) -> None:
        self.endpoints[name] = endpoint
        self.env[f"{name.upper()}_BIND"] = endpoint
        self.env[f"{name.upper()}_ENDPOINT"] = endpoint

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
