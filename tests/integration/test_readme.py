"""README.md's "Try it" section, followed line by line as a newcomer would: its commands are
read from README.md at test time (never a copy) and run in a shell against real processes
on free ports, and what the README shows after a command is checked against what it really
printed.

What the README shows: a `# {...}` comment right after a command, a ```json block (the
output of the last command of the sh block before it), or a plain ``` block of lines (the
output of the last command started with `&` in the sh block before it, else of its last
command). In JSON, `"..."` stands for any value and a trailing `...` for more keys or items;
in lines, `...` and clock times stand for anything. Every other key and value must be as
shown: the section runs from a fresh data folder, so ids, prices and stock are exact.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shared.config import DEFAULT_PORTS, EVENT_PORTS, free_port
from shared.contracts import SERVICES, TOPICS

from ..support import Platform, wait_for

ROOT = Path(__file__).resolve().parents[2]
MORE = "..."


@dataclass
class Command:
    line: str  # as the shell gets it, after the README's addresses became the test's
    shown: str | None = None  # the output the README shows for it (JSON or lines)
    shown_as: str = "json"

    @property
    def background(self) -> bool:
        return shlex.split(self.line, comments=True)[-1:] == ["&"]


@dataclass
class Block:
    commands: list[Command] = field(default_factory=list)


# Run in this order, on one platform: the second goes on where the first ends.
SECTIONS = ("Try it", "Watching it: metrics and traces")


def try_it_blocks(substitutions: dict[str, str]) -> list[Block]:
    """The sh blocks of README's "Try it" and "Watching it" sections, each output shown
    attached to its command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = "\n".join(readme.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
                        for name in SECTIONS)
    blocks: list[Block] = []
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```$", section, re.M | re.S):
        for old, new in substitutions.items():
            body = body.replace(old, new)
        if lang == "sh":
            blocks.append(Block(commands(body)))
            continue
        assert blocks, f"README shows output before any command: {body[:60]!r}"
        previous = blocks[-1].commands
        started = [c for c in previous if c.background]
        target = previous[-1] if lang == "json" or not started else started[-1]
        target.shown, target.shown_as = body, lang or "lines"
    return blocks


def commands(body: str) -> list[Command]:
    """Shell commands of one sh block: continued lines joined, `# {...}` comments attached."""
    found: list[Command] = []
    pending = ""
    for line in body.splitlines():
        if not pending and line.startswith("# "):
            found[-1].shown = line[2:]
            continue
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if not pending.endswith("\\") and pending.strip():
            found.append(Command(pending))
            pending = ""
    assert not pending, f"unfinished command in README: {pending!r}"
    return found


def as_json(shown: str) -> Any:
    """README's JSON with its `...` made into markers: `, ...}` and `, ...]` mean "more"."""
    text = re.sub(r",\s*\.\.\.\s*}", f', "{MORE}": "{MORE}"}}', shown)
    return json.loads(re.sub(r",\s*\.\.\.\s*]", f', "{MORE}"]', text))


def differences(shown: Any, real: Any, at: str = "$") -> list[str]:
    if shown == MORE:
        return []
    if isinstance(shown, dict) and isinstance(real, dict):
        keys = [k for k in shown if k != MORE]
        missing = [k for k in keys if k not in real]
        extra = [] if MORE in shown else sorted(set(real) - set(keys))
        problems = [f"{at}: no key {k!r}" for k in missing]
        problems += [f"{at}: key {k!r} is not in the README" for k in extra]
        return problems + [p for k in keys if k in real
                           for p in differences(shown[k], real[k], f"{at}.{k}")]
    if isinstance(shown, list) and isinstance(real, list):
        items = shown[:-1] if shown[-1:] == [MORE] else shown
        if len(real) < len(items) or (len(real) != len(items) and items is shown):
            return [f"{at}: {len(real)} item(s), the README shows {len(shown)}"]
        return [p for n, (s, r) in enumerate(zip(items, real, strict=False))
                for p in differences(s, r, f"{at}[{n}]")]
    return [] if shown == real else [f"{at}: {real!r}, the README shows {shown!r}"]


def line_pattern(shown: str) -> re.Pattern[str]:
    parts = re.split(r"(\.\.\.|\d\d:\d\d:\d\d\.\d{3}|\s+)", shown.strip())
    return re.compile("".join(".*" if p == MORE or re.fullmatch(r"[\d:.]{12}", p) else
                              r"\s+" if p.isspace() else re.escape(p) for p in parts if p))


def output_problems(command: Command, output: str) -> list[str]:
    """How `output` differs from what the README shows for `command` (empty: as shown)."""
    if command.shown is None:
        return []
    if command.shown_as == "lines":
        real = [line.strip() for line in output.splitlines()]
        return [f"no line like {line!r}" for line in command.shown.splitlines()
                if line.strip() and not any(line_pattern(line).fullmatch(r) for r in real)]
    try:
        real = json.loads(output)
    except json.JSONDecodeError:
        return [f"not JSON: {output[:200]!r}"]
    return differences(as_json(command.shown), real)


class Background:
    """A command the README starts with `&`: its own session, its output collected."""

    def __init__(self, line: str, env: dict[str, str]) -> None:
        self.line = line
        self.process = subprocess.Popen(["bash", "-c", line], cwd=ROOT, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        """SIGTERM to its whole session (`zeroshop up` stops its children), then SIGKILL."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break  # nothing of it is left
            try:
                self.process.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process.wait()


def without_ampersand(line: str) -> str:
    """`cmd &   # note` -> `cmd`: the test keeps the process, instead of a shell's job."""
    return re.sub(r"\s*&\s*(#[^'\"]*)?$", "", line.strip())


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Reader:
    """Runs the README's commands in order, the way its reader would."""

    def __init__(self, data_dir: Path, gateway_port: int) -> None:
        self.platform: Platform | None = Platform(data_dir, GATEWAY_PORT=str(gateway_port))
        # INFO, the default a reader has: `zeroshop trace` follows INFO lines.
        self.env = {**self.platform.env, "GATEWAY_HOST": "127.0.0.1",
                    "ZEROSHOP_LOG_LEVEL": "INFO"}
        self.started: list[Background] = []

    def run(self, command: Command) -> None:
        line = command.line.strip()
        if command.background:
            if "zeroshop up" in line and self.platform is not None:
                # The README asks to stop `make run` first; its reader has watched the last
                # order play out before, so every event is applied when it stops.
                wait_for(lambda: settled(self.platform), timeout=30, what="every event applied")
                self.platform.close()
                self.platform = None
            started = Background(without_ampersand(line), self.env)
            self.started.append(started)
            self.wait_until_ready(started)
            return

        def attempt() -> tuple[subprocess.CompletedProcess[str], list[str]]:
            done = subprocess.run(["bash", "-c", line], cwd=ROOT, env=self.env, text=True,
                                  capture_output=True, timeout=60)
            return done, output_problems(command, done.stdout)

        done, problems = attempt()
        # A read may be early (the reader waits a moment, as the README says); never a write.
        end = time.monotonic() + 15
        while problems and repeatable(line) and time.monotonic() < end:
            time.sleep(0.2)
            done, problems = attempt()
        assert done.returncode == 0, f"{line!r} exited {done.returncode}: {done.stderr}"
        if line.startswith("curl") and "|" not in line:  # piped: not the answer itself
            assert "error" not in json.loads(done.stdout), f"{line!r}: {done.stdout}"
        assert not problems, (f"{line!r} printed what README does not show:\n"
                              + "\n".join(problems) + f"\n--- it printed:\n{done.stdout}")

    def check_background(self, command: Command) -> None:
        """What a command started with `&` printed while the rest of its block ran."""
        (started,) = [b for b in self.started if b.line == without_ampersand(command.line)]
        wait_for(lambda: not output_problems(command, started.output()), timeout=30,
                 what=f"{started.line!r} to print what README shows; it printed:\n"
                      f"{started.output()}")

    def wait_until_ready(self, started: Background) -> None:
        if "zeroshop up" in started.line:
            wait_for(lambda: "ZeroShop is up" in started.output(), timeout=60,
                     what=f"{started.line!r} to be up; it printed:\n{started.output()}")
        if listen := re.search(r"-l [\d.]+:(\d+)", started.line):
            wait_for(lambda: accepts(int(listen[1])), what=f"{started.line!r} to listen")

    def close(self) -> None:
        for started in reversed(self.started):
            started.stop()
        if self.platform is not None:
            self.platform.close()


def settled(platform: Platform | None) -> bool:
    """Every consumer has applied every event of the publishers it follows."""
    assert platform is not None
    last = {p: platform.call(p, "fetch_events", {"after": 0, "limit": 1})["last_seq"]
            for p in EVENT_PORTS}
    for name, contract in SERVICES.items():
        applied = {o["publisher"]: o["last_seq"] for o in
                   (platform.call(name, "offsets")["items"] if contract.consumes else [])}
        follows = {p for topic in contract.consumes for p in TOPICS[topic].publishers}
        if any(applied.get(p, 0) < last[p] for p in follows):
            return False
    return True


def repeatable(line: str) -> bool:
    """A command that only reads: running it again changes nothing."""
    return not re.search(r"-X POST|\breplay\b|\bup\b", line)


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[tuple[Reader, dict[str, str]]]:
    gateway, smtp = free_port(), free_port()
    running = Reader(tmp_path, gateway)
    try:
        endpoints = {f"tcp://127.0.0.1:{port}": running.env[f"{name.upper()}_ENDPOINT"]
                     for name, port in DEFAULT_PORTS.items()}
        yield running, {**endpoints, "localhost:8080": f"127.0.0.1:{gateway}",
                        "EMAIL_SMTP_PORT=2525": f"EMAIL_SMTP_PORT={smtp}",
                        "127.0.0.1:2525": f"127.0.0.1:{smtp}"}
    finally:
        running.close()


def test_try_it_works_as_written(reader: tuple[Reader, dict[str, str]]) -> None:
    running, substitutions = reader
    blocks = try_it_blocks(substitutions)
    shown = [c for b in blocks for c in b.commands if c.shown is not None]
    assert len(shown) >= 8, "README's Try it shows fewer outputs than it used to"
    for block in blocks:
        for command in block.commands:
            running.run(command)
        for command in block.commands:
            if command.background and command.shown is not None:
                running.check_background(command)


class TestTheReadersTools:
    """The parts of the reader above that a wrong README would otherwise slip past."""

    def test_shown_json_must_match_keys_values_and_items(self) -> None:
        shown = as_json('{"a": 1, "b": {"c": "...", ...}, "d": [{"e": 2}, ...]}')
        assert differences(shown, {"a": 1, "b": {"c": 9, "z": 0}, "d": [{"e": 2}, {}]}) == []
        assert differences(shown, {"a": 2, "b": {}, "d": [], "x": 0}) == [
            "$: key 'x' is not in the README", "$.a: 2, the README shows 1",
            "$.b: no key 'c'", "$.d: 0 item(s), the README shows 2"]

    def test_shown_lines_allow_clock_times_and_dots(self) -> None:
        pattern = line_pattern("21:33:39.757  orders#1   order.placed  order 1 placed: ...")
        assert pattern.fullmatch("07:01:02.003  orders#1 order.placed  order 1 placed: 3 x")
        assert not pattern.fullmatch("07:01:02.003  orders#2 order.placed  order 1 placed: 3")

    def test_a_command_ends_where_its_quotes_and_backslashes_do(self) -> None:
        found = commands("a \\\n  -d '{\"x\":\n 1}'\n# {\"ok\": true}\nb &   # note\n")
        assert [c.line for c in found] == ["a \\\n  -d '{\"x\":\n 1}'", "b &   # note"]
        assert found[0].shown == '{"ok": true}' and found[1].background
        assert without_ampersand(found[1].line) == "b"
