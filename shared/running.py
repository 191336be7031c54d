"""What `zeroshop up` is running, kept in `<data dir>/zeroshop-up.json`: every process's pid,
endpoint, state and restarts. `up` rewrites it on every change; `zeroshop status` and
`zeroshop chaos` read it. A file whose supervisor is gone is ignored."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

FILE_NAME = "zeroshop-up.json"


class Process(msgspec.Struct, frozen=True):
    pid: int
    endpoint: str
    state: str  # starting, ready, backing off, crash loop (see shared.restarts)
    detail: str  # the state in words: "restarting in 1.0 s"
    restarts: int = 0
    last_exit: int | None = None
    events_endpoint: str = ""
    ready_since: float = 0.0  # when it last became ready (Unix time); 0: not ready


class RunningPlatform(msgspec.Struct, frozen=True):
    supervisor_pid: int
    processes: dict[str, Process]

    @property
    def gateway_url(self) -> str:
        return self.processes["gateway"].endpoint if "gateway" in self.processes else ""

    def endpoints(self) -> dict[str, str]:
        return {n: p.endpoint for n, p in self.processes.items() if n != "gateway"}


def state_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def write(data_dir: Path, platform: RunningPlatform) -> None:
    """Replace the file atomically, so a reader never sees half of it."""
    path = state_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_bytes(msgspec.json.encode(platform))
    os.replace(partial, path)


def remove(data_dir: Path) -> None:
    state_file(data_dir).unlink(missing_ok=True)


def read(data_dir: Path) -> RunningPlatform | None:
    """The platform `zeroshop up` runs from `data_dir`, or None if none is running."""
    try:
        platform = msgspec.json.decode(state_file(data_dir).read_bytes(), type=RunningPlatform)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    return platform if _alive(platform.supervisor_pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
