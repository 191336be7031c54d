"""Structured logs with the request's trace id on every line.

Each process logs to stderr: readable lines on a terminal, JSON lines otherwise (containers,
`zeroshop up`'s children are read by machines). With `ZEROSHOP_LOG_DIR` set, every line
also goes as JSON to `<dir>/<process>.log`, which `zeroshop trace ID` reads.

The trace id is a context variable: the runtime sets it around each RPC request and each
event it applies, the gateway around each HTTP request; every log line made meanwhile, by
any logger, carries it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO

MAX_LOG_BYTES = 10 << 20
current_trace: ContextVar[str | None] = ContextVar("zeroshop_trace", default=None)

# A client's X-Request-ID is kept when it is short and plain (it lands in logs, headers and
# the 64-character trace column of the outbox); anything else gets a fresh one.
SANE_TRACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def sane_trace(given: str | None) -> str:
    """`given` if it is a sane request id, else a new one (32 hex digits)."""
    if given and SANE_TRACE.fullmatch(given):
        return given
    return new_trace()


# A new id is this process's random prefix and a counter: unique across processes and
# replicas without an os.urandom call per request (uuid4 per page was 8% of the gateway's
# CPU). Ids need not be secret, only unique; a forked child draws a prefix of its own.
_trace_prefix = os.urandom(8).hex()
_trace_counter = itertools.count(1)


def new_trace() -> str:
    """A fresh request id: 32 hex digits, never the same twice in or across processes."""
    return f"{_trace_prefix}{next(_trace_counter) & 0xFFFFFFFFFFFFFFFF:016x}"


def _new_trace_prefix() -> None:
    global _trace_prefix, _trace_counter
    _trace_prefix, _trace_counter = os.urandom(8).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_trace_prefix)


@contextmanager
def tracing(trace: str | None) -> Iterator[None]:
    """Log lines made inside carry `trace` (None: no trace)."""
    token = current_trace.set(trace)
    try:
        yield
    finally:
        current_trace.reset(token)


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, process, logger, message, trace, error."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": _time(record), "level": record.levelname, "service": self.process,
            "logger": record.name, "message": record.getMessage(),
        }
        trace = current_trace.get()
        if trace:
            line["trace"] = trace
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class ReadableFormatter(logging.Formatter):
    """`12:00:01.234 orders INFO [trace] message` for a person at a terminal."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        trace = current_trace.get()
        text = (f"{_time(record)[11:23]} {self.process} {record.levelname}"
                f"{f' [{trace}]' if trace else ''} {record.getMessage()}")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def log_file(log_dir: Path, process: str) -> Path:
    return log_dir / f"{process}.log"


def log_files(log_dir: Path) -> list[Path]:
    """Every process's log in `log_dir`, rotated ones (`orders.log.1`) included."""
    return sorted([*log_dir.glob("*.log"), *log_dir.glob("*.log.[0-9]")])


def configure(process: str, level: str, environ: Mapping[str, str],
              stream: IO[str] | None = None) -> None:
    """Set up the root logger of `process` (a service or the gateway) once, at start."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ReadableFormatter(process) if stream.isatty()
                         else JsonFormatter(process))
    handlers: list[logging.Handler] = [handler]
    log_dir = environ.get("ZEROSHOP_LOG_DIR")
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        # Rotated (10 MB, 3 kept), so a platform left running does not fill the disk.
        to_file = RotatingFileHandler(log_file(Path(log_dir), process), encoding="utf-8",
                                      maxBytes=MAX_LOG_BYTES, backupCount=3)
        to_file.setFormatter(JsonFormatter(process))
        handlers.append(to_file)
    logging.basicConfig(level=level, handlers=handlers, force=True)
