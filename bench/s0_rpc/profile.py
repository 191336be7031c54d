"""Where a missed target's time goes: the client's wall time by layer (cProfile, in this
process) and each server process's busy time by layer (py-spy, sampling from outside),
while the arm runs a few more seconds after the timed rounds."""

from __future__ import annotations

import cProfile
import itertools
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..common import table
from .measure import Arm

# The first match names a frame's layer; a stack's time goes to its innermost named frame.
# pyzmq is split by what the call does: a send hands the frame to libzmq's I/O thread (and
# wakes it), a poll waits for the peer, and zmq.Again is raised by every empty NOBLOCK recv.
WAITING = "waiting in zmq poll (for the peer, the loopback and the I/O threads)"
LAYERS = (
    ("zmq", "poll", WAITING),
    ("zmq", "send", "zmq send (the frame goes to libzmq's I/O thread, which it wakes)"),
    ("zmq", "recv", "zmq recv"),
    ("zmq", "", "pyzmq, other (socket options, zmq.Again raised and caught)"),
    ("sqlalchemy", "", "SQLAlchemy and sqlite3"),
    ("sqlite3", "", "SQLAlchemy and sqlite3"),
    ("msgspec", "", "msgspec encode/decode"),
    ("prometheus_client", "", "metrics (prometheus_client)"),
    ("shared/messaging/client", "", "RpcClient bookkeeping (shared/messaging/client.py)"),
    ("shared/messaging", "", "ZeroShop messaging (codec, server loop, replicas)"),
    ("shared/runtime", "", "service runtime (dispatch, reply cache)"),
    ("shared/db", "", "unit of work (shared/db.py)"),
    ("services/", "", "the service's handler"),
    ("otel", "", "tracing hooks"),
    ("logging", "", "logging"),
    ("bench/", "", "the benchmark's own loop"),
)
OTHER = "other Python (stdlib, interpreter)"
REPO = Path(__file__).resolve().parents[2]
SAMPLE_RATE = 250  # py-spy samples per second per process


def layer_of(frame: str) -> str | None:
    """A cProfile entry ("path function") or a py-spy frame ("function (path:line)")."""
    lowered = frame.lower()
    return next((name for where, what, name in LAYERS if where in lowered and what in lowered),
                None)


@dataclass(frozen=True)
class Profile:
    target: str
    arm: str
    summary: str  # the measured split of one operation's time, in words
    client: list[tuple[str, float]]  # (layer, share of the client's wall time)
    top: list[tuple[str, float, float]]  # the client's costliest functions: (name, share,
    # calls per operation)
    servers: dict[str, list[tuple[str, float]]]  # by process: (layer, share of its busy time)

    def headline(self) -> str:
        """Where the time goes, in one sentence: the largest layer outside the waits."""
        working = [(name, share) for name, share in self.client if name != WAITING]
        waited = dict(self.client).get(WAITING, 0.0)
        text = (f"The client spends {waited:.0%} of its wall time waiting for replies; of "
                f"the rest, the largest part is {working[0][0]} ({working[0][1]:.0%} of its "
                "wall time)" if working else "")
        if self.servers:
            mean: Counter[str] = Counter()
            for layers in self.servers.values():
                for name, share in layers:
                    mean[name] += share / len(self.servers)
            name, share = mean.most_common(1)[0]
            text += (f"; in the servers it is {name}, {share:.0%} of their samples on "
                     "average")
        return text + "."

    def render(self) -> str:
        parts = [f"**{self.target}** (missed). {self.summary} {self.headline()}",
                 f"The client ({self.arm}), cProfile: share of its wall time by layer.",
                 table(["layer", "share"], _rows(self.client)),
                 "Its costliest functions by own time:",
                 table(["function", "share of wall time", "calls per operation"],
                       [[f"`{name}`", f"{share:.0%}", f"{calls:.1f}"]
                        for name, share, calls in self.top])]
        if self.servers:
            for name, layers in self.servers.items():
                parts += [f"{name}, py-spy: share of its samples by layer, its wait for "
                          "the next request left out.",
                          table(["layer", "share"], _rows(layers))]
        else:
            parts.append("py-spy could not sample the servers here (not installed, or "
                         "ptrace refused), so only the client is broken down.")
        return "\n\n".join(parts)


def _rows(layers: Sequence[tuple[str, float]]) -> list[list[str]]:
    return [[name, f"{share:.0%}"] for name, share in layers if share >= 0.01]


def _shares(counts: Counter[str]) -> list[tuple[str, float]]:
    total = sum(counts.values()) or 1
    return [(name, count / total) for name, count in counts.most_common()]


def client_layers(arm: Arm, ids: Sequence[int], seconds: float) -> tuple[
        list[tuple[str, float]], list[tuple[str, float, float]]]:
    """Run the arm for `seconds` under cProfile: each function's own time goes to its layer;
    also the five costliest functions, with how often one operation calls them."""
    profiler = cProfile.Profile()
    operations = 0
    end = time.monotonic() + seconds
    profiler.enable()
    for product_id in itertools.cycle(ids):
        arm.run_one(product_id)
        operations += 1
        if time.monotonic() >= end:
            break
    profiler.disable()
    counts: Counter[str] = Counter()
    functions = []
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, line, function), (_cc, calls, own, _cum, _callers) in stats.items():
        counts[layer_of(f"{filename} {function}") or OTHER] += own
        functions.append((own, f"{_short(filename)}:{line} {function}", calls))
    total = sum(counts.values()) or 1
    top = [(name, own / total, calls / operations)
           for own, name, calls in sorted(functions, reverse=True)[:5]]
    return _shares(counts), top


def _short(filename: str) -> str:
    """A profiled file as a reader finds it: relative to the repository or site-packages."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if filename.startswith(str(REPO)):
        return str(Path(filename).relative_to(REPO))
    return Path(filename).name if filename.startswith("/") else filename


def profile_arm(target: str, arm: Arm, ids: Sequence[int], seconds: float,
                summary: str) -> Profile:
    """py-spy on every server process of the arm while cProfile watches the client."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="zeroshop-s0-spy-") as folder:
        samplers = {name: _start_sampler(spy, pid, seconds, Path(folder) / f"{index}.txt")
                    for index, (name, pid) in enumerate(arm.pids.items())}
        try:
            client, top = client_layers(arm, ids, seconds)
            servers = {name: _finish_sampler(*sampler) for name, sampler in samplers.items()
                       if sampler is not None}
        finally:  # interrupted: no sampler outlives the benchmark
            for sampler in samplers.values():
                if sampler is not None and sampler[0].poll() is None:
                    sampler[0].kill()
                    sampler[0].wait()
    return Profile(target, arm.name, summary, client, top,
                   {name: layers for name, layers in servers.items() if layers})


def _start_sampler(spy: str, pid: int, seconds: float,
                   out: Path) -> tuple[subprocess.Popen[bytes], Path] | None:
    if not Path(spy).exists():
        return None
    command = [spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
               "--rate", str(SAMPLE_RATE), "--nonblocking", "--format", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def _finish_sampler(process: subprocess.Popen[bytes], out: Path) -> list[tuple[str, float]]:
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return []
    return stack_layers(out.read_text() if out.exists() else "")


def stack_layers(collapsed: str) -> list[tuple[str, float]]:
    """py-spy's raw output ("frame;frame;... count" per line): each sample's count goes to
    the layer of its innermost frame that has one. A server waiting for its next request
    in zmq poll is not busy (py-spy does not always see that wait as idle): left out."""
    counts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        layer = next((found for frame in reversed(frames) if (found := layer_of(frame))), OTHER)
        if layer != WAITING:
            counts[layer] += int(count)
    return _shares(counts)


def cpu_summary(arm: str, baseline: str, p50_us: Mapping[str, float],
                cpu_us: Mapping[str, Mapping[str, float]], client: str) -> str:
    """The arm's and its baseline's p50 beside the CPU their processes used, in words."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1

    def split(name: str) -> str:
        servers = sum(us for process, us in cpu_us[name].items() if process != client)
        busy = cpu_us[name][client] + servers
        return (f"p50 {p50_us[name]:.0f} us, CPU per operation {cpu_us[name][client]:.0f} us "
                f"in the client and {servers:.0f} us in the servers ({busy:.0f} us in all: "
                f"at least {busy / cores:.0f} us of wall time on {cores} CPUs)")
    return f"{arm}: {split(arm)}; {baseline}: {split(baseline)}."
