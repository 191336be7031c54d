"""A throwaway platform for `zeroshop chaos --scratch`: `zeroshop up` in a temporary folder
on free loopback ports, on SQLite or on fresh PostgreSQL databases (one per service, dropped
afterwards), so a soak never touches the data of the platform you run."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from shared import running
from shared.config import ALL_SERVICES, loopback_env
from shared.restarts import READY


@contextmanager
def postgres_databases(admin_url: str, label: str) -> Iterator[dict[str, str]]:
    """One fresh database per service on the server of `admin_url`, dropped at the end;
    yields the `<SERVICE>_DATABASE_URL` variables that point at them."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = {s: f"zeroshop_{label}_{uuid.uuid4().hex[:8]}_{s}" for s in ALL_SERVICES}
    root = admin_url.rsplit("/", 1)[0]
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield {f"{s.upper()}_DATABASE_URL": f"{root}/{name}" for s, name in names.items()}
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def all_ready(platform: running.RunningPlatform | None) -> bool:
    return platform is not None and "gateway" in platform.processes and \
        all(p.state == READY for p in platform.processes.values())


class ScratchStartError(RuntimeError):
    """The scratch platform did not start (its log is in the message)."""


@contextmanager
def scratch_platform(environ: dict[str, str], postgres_url: str | None = None,
                     start_within_s: float = 120.0, tries: int = 3) -> Iterator[Path]:
    """Start `zeroshop up` in a temporary folder; yields that folder (its log is `up.log`).

    A port picked free can be taken by another program before our process binds it (a
    busy machine); such a start is tried again on new ports, up to `tries` times.
    """
    with tempfile.TemporaryDirectory(prefix="zeroshop-chaos-") as folder:
        data = Path(folder)
        with _databases(postgres_url) as urls:
            for attempt in range(1, tries + 1):
                env = {**loopback_env(environ, data), **urls}
                env.setdefault("ZEROSHOP_LOG_LEVEL", "WARNING")
                env.setdefault("ZEROSHOP_RATE_LIMIT", "off")  # its load would meet them
                up = _start(env, data)
                try:
                    _wait_ready(up, data, start_within_s)
                except ScratchStartError:
                    stop_gently(up)
                    if attempt == tries or "cannot bind" not in _log(data):
                        raise
                    continue
                try:
                    yield data
                finally:
                    stop_gently(up)
                return


def _start(env: dict[str, str], data: Path) -> subprocess.Popen[bytes]:
    with (data / "up.log").open("w") as log:
        return subprocess.Popen([sys.executable, "-m", "shared.cli", "up"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _log(data: Path) -> str:
    return (data / "up.log").read_text()


def _wait_ready(up: subprocess.Popen[bytes], data: Path, within_s: float) -> None:
    end = time.monotonic() + within_s
    while not all_ready(running.read(data)):
        if up.poll() is not None or time.monotonic() > end:
            raise ScratchStartError("the scratch platform did not start:\n" +
                                    _log(data)[-3000:])
        time.sleep(0.1)


def stop_gently(up: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait for a clean stop; SIGKILL after 30 s (bench/ stops this way too)."""
    up.send_signal(signal.SIGTERM)
    try:
        up.wait(30)
    except subprocess.TimeoutExpired:
        up.kill()
        up.wait()


@contextmanager
def _databases(postgres_url: str | None) -> Iterator[dict[str, str]]:
    if postgres_url is None:
        yield {}
        return
    with postgres_databases(postgres_url, "chaos") as urls:
        yield urls
