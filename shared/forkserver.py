"""Start platform processes from a warm interpreter: fork them instead of spawning them.

Each ZeroShop process spends most of its start importing the same stack (SQLAlchemy, pyzmq,
msgspec, Flask, uvicorn, the runtime and the contracts): about 0.4 CPU-s apiece, nine times
over for `zeroshop up`. Through multiprocessing's fork server, that stack is imported once,
in a single-threaded server process started for the purpose, and every service is forked
from it: the imports are paid once, and their memory is shared copy-on-write.

Only code that reads no environment at import time is preloaded (configuration is read
when a service starts, from `os.environ`), so a child sets its own environment, points its
stdout and stderr where the supervisor wants them, and then runs its module as
`python -m module` would. A child is watched through `ForkedProcess`, which answers the
questions the supervisor asks of a `subprocess.Popen`.
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import IO

import setproctitle

from shared.config import ALL_SERVICES

# What the processes import anyway; nothing here reads the environment when imported.
# Alembic too: every service on an empty folder migrates (a start at the newest revision
# would not need it, but it costs the fork server less than it costs eight services).
PRELOAD = [
    "shared.forkserver_guard",  # first: the fork server dies with its supervisor
    "sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
    "zmq", "msgspec", "prometheus_client", "flask", "uvicorn", "uvloop", "httptools", "a2wsgi",
    "setproctitle", "alembic.command", "alembic.config", "alembic.runtime.migration",
    "shared.contracts", "shared.messaging", "shared.events", "shared.db", "shared.runtime",
    "shared.migrations", "shared.cli",
    *(f"services.{name}.{part}" for name in ALL_SERVICES for part in ("models", "service")),
    "gateway", "gateway.server",
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


class ForkedProcess:
    """A child forked from the fork server, asked what a supervisor asks of a Popen."""

    def __init__(self, process: multiprocessing.process.BaseProcess, stdout: IO[str]) -> None:
        self._process = process
        self.stdout = stdout

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:  # it died just now: nothing to signal
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork(module: str, env: Mapping[str, str], stderr: IO[str] | int | None,
         prepare: Callable[[], None]) -> ForkedProcess:
    """Run `python -m module` in a child forked from the fork server, with `env` as its whole
    environment, its stdout a pipe to us, and its stderr `stderr` (None: ours)."""
    reader, writer = _context.Pipe(duplex=False)
    err = _fd_of(stderr)
    # A Connection travels to the child as its file descriptor (multiprocessing passes it
    # over the fork server's socket); it is how a stdout pipe and a log file reach it.
    stderr_carrier = Connection(os.dup(err)) if err is not None else None
    process = _context.Process(target=_child, name=module, daemon=False,
                               args=(module, dict(env), writer, stderr_carrier, prepare))
    try:
        process.start()
    finally:
        writer.close()
        if stderr_carrier is not None:
            stderr_carrier.close()
    stdout = os.fdopen(os.dup(reader.fileno()), "r", encoding="utf-8", errors="replace")
    reader.close()
    return ForkedProcess(process, stdout)


def _fd_of(stream: IO[str] | int | None) -> int | None:
    if stream is None:
        return sys.stderr.fileno()
    if isinstance(stream, int):
        return None if stream == subprocess.DEVNULL else stream
    return stream.fileno()


def _child(module: str, env: dict[str, str], stdout: Connection,
           stderr: Connection | None, prepare: Callable[[], None]) -> None:
    # In ps, top and pgrep -f: what a spawned child would show, not the fork server's line
    # (first: it finds the memory to write the title to only while the environment is the
    # one the process started with).
    setproctitle.setproctitle(f"{sys.executable} -m {module}")
    prepare()
    os.dup2(stdout.fileno(), 1)
    stdout.close()
    if stderr is not None:
        os.dup2(stderr.fileno(), 2)
        stderr.close()
    else:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [module]
    # The fork server ignores SIGINT; a service wants Ctrl-C like any process.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
