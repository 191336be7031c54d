"""Structured logs: JSON lines off a terminal, readable lines on one, the trace id on both,
and a copy in the log folder that `zeroshop trace` reads."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared import logs


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


class TestLogLines:
    def test_off_a_terminal_each_line_is_json_with_the_trace(self, tmp_path: Path) -> None:
        stream = io.StringIO()
        logs.configure("orders", "INFO", {}, stream)
        with logs.tracing("req-1"):
            logging.getLogger("zeroshop.test").info("placed %d", 7)
        logging.getLogger("zeroshop.test").warning("untraced")
        first, second = (json.loads(line) for line in stream.getvalue().splitlines())
        assert (first["service"], first["level"], first["message"], first["trace"]) == \
            ("orders", "INFO", "placed 7", "req-1")
        assert "trace" not in second and second["level"] == "WARNING"

    def test_on_a_terminal_lines_are_for_reading(self) -> None:
        stream = Terminal()
        logs.configure("sms", "INFO", {}, stream)
        with logs.tracing("req-2"):
            logging.getLogger("x").info("sent")
        assert stream.getvalue().rstrip().endswith("sms INFO [req-2] sent")

    def test_an_error_keeps_its_traceback(self) -> None:
        stream = io.StringIO()
        logs.configure("email", "INFO", {}, stream)
        try:
            raise ConnectionRefusedError("smtp down")
        except ConnectionRefusedError:
            logging.getLogger("x").exception("send failed")
        line = json.loads(stream.getvalue())
        assert "ConnectionRefusedError: smtp down" in line["error"]

    def test_the_log_folder_gets_json_whatever_stderr_is(self, tmp_path: Path) -> None:
        logs.configure("inventory", "INFO", {"ZEROSHOP_LOG_DIR": str(tmp_path)}, Terminal())
        with logs.tracing("req-3"):
            logging.getLogger("x").info("reserved")
        for handler in logging.getLogger().handlers:
            handler.flush()
        (line,) = (tmp_path / "inventory.log").read_text().splitlines()
        assert json.loads(line)["trace"] == "req-3"


class TestRequestIds:
    @pytest.mark.parametrize("given", ["abc", "A1-b2_c3.d4:e5", "x" * 64])
    def test_a_sane_id_is_kept(self, given: str) -> None:
        assert logs.sane_trace(given) == given

    @pytest.mark.parametrize("given", [None, "", "x" * 65, "a b", "a\nb", "-a", "é", "a/b"])
    def test_anything_else_is_replaced_by_a_new_one(self, given: str | None) -> None:
        made = logs.sane_trace(given)
        assert made != given and len(made) == 32 and logs.SANE_TRACE.fullmatch(made)
        assert logs.sane_trace(given) != made  # new each time

    def test_new_ids_are_unique_across_threads_and_a_forked_child(self) -> None:
        with ThreadPoolExecutor(4) as pool:
            made = list(pool.map(lambda _: logs.new_trace(), range(2000)))
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # the child writes ids of its own and leaves at once
            os.write(write, "".join(logs.new_trace() for _ in range(50)).encode())
            os._exit(0)
        os.close(write)
        os.waitpid(child, 0)
        with os.fdopen(read) as pipe:
            text = pipe.read()
        made += [text[i:i + 32] for i in range(0, len(text), 32)]
        assert len(made) == 2050 and len(set(made)) == 2050
        assert all(len(t) == 32 and logs.SANE_TRACE.fullmatch(t) for t in made)
        assert len({t[:16] for t in made}) == 2  # a prefix per process
