"""S4 cold start: how long until ZeroShop answers, from nothing running.

The platform: `zeroshop up` on an empty scratch folder (free loopback ports, every database
created, migrated and seeded) until the gateway's /readyz answers 200, and again on the
folder it left (data present). One service: pricing, spawned on a seeded folder, until its
first get_price reply; beside it, in the same rounds and interleaved, the same lookup as a
Flask + SQLAlchemy app under gunicorn sync workers (bench/peers/pricing_gunicorn.py, on the
same SQLite file) until its first HTTP reply. Then where the time went: each process's CPU
until the platform was ready, and pricing's start split into interpreter, imports
(`python -X importtime`) and the rest. Every arm's modules are compiled to bytecode first, as
an image build does. Writes the `cold-start` section of docs/BENCHMARKS.md.

    .venv/bin/python -m bench.s4_cold_start --rounds 5
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared import running
from shared.chaos.scratch import stop_gently
from shared.config import free_port, loopback_env
from shared.contracts.pricing import GetPrice, Price
from shared.messaging import Call, RpcClient, RpcError, new_context

from .common import (
    REPORT,
    OtherLoad,
    cpu_seconds,
    machine_facts,
    new_figure,
    plot_path,
    progress,
    save_figure,
    spread,
    table,
    verdict,
    write_section,
)

PEER_APP = "bench.peers.pricing_gunicorn:app"
START_WITHIN_S = 120.0
POLL_S = 0.005  # fine enough for a start measured in hundreds of milliseconds
TARGET_PLATFORM_S = 2.0
TARGET_SERVICE_S = 0.3


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.s4_cold_start", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn workers of the peer (default: gunicorn's own advice, "
                             "2 x CPUs + 1)")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report to rewrite the s4 section of (and its plot beside it)")
    return parser.parse_args(argv)


# --- starting and stopping, shared with bench/s5_memory.py ----------------------------------------

def quiet_env(data: Path) -> dict[str, str]:
    """A platform of its own in `data`: free loopback ports, warnings only, no rate limits
    (a benchmark floods the gateway from one address on purpose)."""
    return {**loopback_env(os.environ, data), "ZEROSHOP_LOG_LEVEL": "WARNING",
            "ZEROSHOP_RATE_LIMIT": "off"}


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


@contextmanager
def stopping(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        stop_gently(process)


def _deadline_passed(process: subprocess.Popen[bytes], end: float, log: Path) -> None:
    if process.poll() is not None or time.monotonic() > end:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{process.args} did not answer:\n{tail}")


def wait_http_ok(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll GET `url` until it answers 200 (a refused connection costs microseconds)."""
    parts = urllib.parse.urlsplit(url)
    end = time.monotonic() + START_WITHIN_S
    while True:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
        try:
            conn.request("GET", parts.path or "/")
            if conn.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        _deadline_passed(process, end, log)
        time.sleep(POLL_S)


def wait_rpc_reply(endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until pricing answers get_price. The port is probed first: a ZeroMQ socket
    connected before the bind would retry only every 100 ms, blurring the measurement."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    end = time.monotonic() + START_WITHIN_S
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            break
        except OSError:
            _deadline_passed(process, end, log)
            time.sleep(POLL_S)
    ctx = new_context()
    client = RpcClient(ctx, {"pricing": endpoint})
    try:
        while True:
            try:
                client.call(Call("pricing", "get_price", GetPrice(product_id=1), Price), 2000)
                return
            except RpcError:
                _deadline_passed(process, end, log)
    finally:
        client.close()
        ctx.term()


def start_up(data: Path, fork: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """`zeroshop up` from `data` (fork=False: every process a new interpreter, as before
    the fork server); returns the process and the gateway's base URL."""
    env = {**quiet_env(data), "ZEROSHOP_FORK": "1" if fork else "0"}
    up = spawn([sys.executable, "-m", "shared.cli", "up"], env, data / "up.log")
    return up, f"http://127.0.0.1:{env['GATEWAY_PORT']}"


def start_pricing(data: Path, extra: list[str] | None = None
                  ) -> tuple[subprocess.Popen[bytes], str]:
    """pricing alone on `data`; returns the process and its endpoint."""
    env = quiet_env(data)
    command = [sys.executable, *(extra or []), "-m", "services.pricing"]
    return spawn(command, env, data / "pricing.log"), env["PRICING_ENDPOINT"]


def start_peer(data: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """The gunicorn peer on pricing's SQLite file in `data`; returns it and its URL."""
    port = free_port()
    env = {**os.environ, "PRICING_PEER_DATABASE_URL": f"sqlite:///{data / 'pricing.db'}"}
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", PEER_APP]
    return spawn(command, env, data / "peer.log"), f"http://127.0.0.1:{port}"


def seeded_folder(parent: Path) -> Path:
    """A data folder where pricing has already created, migrated and seeded its database."""
    data = parent / "seeded"
    data.mkdir()
    pricing, endpoint = start_pricing(data)
    with stopping(pricing):
        wait_rpc_reply(endpoint, pricing, data / "pricing.log")
    return data


# --- the measurements ------------------------------------------------------------------------

@dataclass
class PlatformStart:
    seconds: float
    cpu: dict[str, float]  # process -> CPU seconds used until /readyz answered 200


def platform_start(data: Path, fork: bool = True) -> PlatformStart:
    began = time.perf_counter()
    up, url = start_up(data, fork)
    with stopping(up):
        wait_http_ok(url + "/readyz", up, data / "up.log")
        took = time.perf_counter() - began
        state = running.read(data)
        names = {p.pid: name for name, p in (state.processes.items() if state else ())}
        # Every descendant: with the fork server, the services are its children, and the
        # imports they share were paid in it.
        cpu = {"zeroshop up": cpu_seconds(up.pid)}
        for pid in descendants_of(up.pid):
            name = names.get(pid, "fork server and helpers")
            cpu[name] = cpu.get(name, 0.0) + cpu_seconds(pid)
    return PlatformStart(took, cpu)


@dataclass
class Start:
    seconds: float
    cpu: float  # CPU seconds its processes used until the first reply


def service_start(data: Path) -> Start:
    began = time.perf_counter()
    pricing, endpoint = start_pricing(data)
    with stopping(pricing):
        wait_rpc_reply(endpoint, pricing, data / "pricing.log")
        return Start(time.perf_counter() - began, cpu_seconds(pricing.pid))


def peer_start(data: Path, workers: int) -> Start:
    """The master and every worker it forked: they all boot at once, until the first of
    them answers."""
    began = time.perf_counter()
    peer, url = start_peer(data, workers)
    with stopping(peer):
        wait_http_ok(url + "/prices/1", peer, data / "peer.log")
        took = time.perf_counter() - began
        group = [peer.pid, *children_of(peer.pid)]
        return Start(took, sum(cpu_seconds(pid) for pid in group))


def children_of(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(p) for p in listing.read().split()]
    except OSError:
        return []


def descendants_of(pid: int) -> list[int]:
    found = children_of(pid)
    for child in list(found):
        found += descendants_of(child)
    return found


# --- where pricing's start goes ---------------------------------------------------------------

def _timed_python(code: str) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))
    return time.perf_counter() - began


def import_profile(data: Path) -> tuple[float, float, list[tuple[str, float]]]:
    """(the bare interpreter's start s, median of three; one pricing start under `-X
    importtime`, spawn to first reply s; [(top-level package, its modules' own import s)])."""
    bare = statistics.median(_timed_python("pass") for _ in range(3))
    log = data / "pricing.log"
    log.unlink(missing_ok=True)
    began = time.perf_counter()
    pricing, endpoint = start_pricing(data, ["-X", "importtime"])
    with stopping(pricing):
        wait_rpc_reply(endpoint, pricing, log)
        profiled = time.perf_counter() - began
    by_package: dict[str, float] = defaultdict(float)
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        # Each module's own time, summed by distribution: who costs what, whoever imports it.
        by_package[name.strip().split(".")[0]] += int(own) / 1e6
    ranked = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)
    return bare, profiled, ranked


# --- the report -------------------------------------------------------------------------------

def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _spread(starts: list[Start] | list[PlatformStart]) -> list[str]:
    """Median, min and max wall time, and the median CPU time of every process involved."""
    values = [s.seconds for s in starts]
    cpu = statistics.median(s.cpu if isinstance(s, Start) else sum(s.cpu.values())
                            for s in starts)
    return [_s(statistics.median(values)), _s(min(values)), _s(max(values)), _s(cpu)]


def plot(first: list[PlatformStart], again: list[PlatformStart],
         spawned: list[PlatformStart], service: list[Start], peer: list[Start],
         path: Path) -> None:
    """Every round's start time per arm (dots) with its median (bar) and the targets."""
    figure, (platform_axes, service_axes) = new_figure(9.5, 4.2, columns=2)
    for axes, arms, target in (
            (platform_axes, {"forked,\nempty folder": first, "forked,\ndata present": again,
                             "new interpreters,\nempty (before)": spawned}, TARGET_PLATFORM_S),
            (service_axes, {"pricing": service, "gunicorn peer": peer}, TARGET_SERVICE_S)):
        for x, starts in enumerate(arms.values()):
            values = [s.seconds * 1000 for s in starts]
            axes.scatter([x] * len(values), values, alpha=0.6)
            axes.hlines(statistics.median(values), x - 0.25, x + 0.25, color="black")
        axes.axhline(target * 1000, color="red", linestyle="--", label="target")
        axes.set_xticks(range(len(arms)), list(arms))
        axes.set_xlim(-0.6, len(arms) - 0.4)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3, axis="y")
        axes.legend()
    platform_axes.set_ylabel("ms to first answer (rounds; bar: median)")
    platform_axes.set_title("zeroshop up to /readyz 200")
    service_axes.set_title("one service to its first reply")
    save_figure(figure, path)


# What every arm starts from, compiled to bytecode before the first start.
SOURCES = ("shared", "services", "gateway", "bench")


def compile_bytecode() -> None:
    """Compile the project's modules (and the peer's), as deploy/Dockerfile does at build and
    `make` at install. Where PYTHONDONTWRITEBYTECODE is set, Python never caches what it
    compiles, so each start would compile every module from source again: a cost a deployed
    start does not pay (its image is compiled), and not what this scenario measures."""
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *SOURCES], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)


def run(args: argparse.Namespace) -> str:
    facts = machine_facts()
    facts.append(("PYTHONDONTWRITEBYTECODE", os.environ.get("PYTHONDONTWRITEBYTECODE") or
                  "unset"))
    others = OtherLoad()
    first: list[PlatformStart] = []
    again: list[PlatformStart] = []
    spawned: list[PlatformStart] = []  # ZEROSHOP_FORK=0: what the start was before
    service: list[Start] = []
    peer: list[Start] = []
    with tempfile.TemporaryDirectory(prefix="zeroshop-cold-start-") as folder:
        scratch = Path(folder)
        progress("compiling the project's modules to bytecode, as an image build does")
        compile_bytecode()
        progress("seeding a pricing database for the one-service rounds")
        seeded = seeded_folder(scratch)
        progress("warm-up: pricing and its peer once each, untimed (files in the page cache)")
        service_start(seeded)
        peer_start(seeded, args.workers)
        for number in range(1, args.rounds + 1):
            data = scratch / f"platform-{number}"
            data.mkdir()
            before = scratch / f"platform-{number}-spawned"
            before.mkdir()
            platform_arms = [(first, data, True), (spawned, before, False)]
            for starts, where, fork in platform_arms if number % 2 else reversed(platform_arms):
                starts.append(platform_start(where, fork))
            again.append(platform_start(data))
            # Interleaved, and each arm first in every other round.
            arms = [("service", lambda: service.append(service_start(seeded))),
                    ("peer", lambda: peer.append(peer_start(seeded, args.workers)))]
            for _, measure in arms if number % 2 else reversed(arms):
                measure()
            progress(f"round {number}/{args.rounds}: platform {_s(first[-1].seconds)} ms "
                     f"(again {_s(again[-1].seconds)} ms, new interpreters "
                     f"{_s(spawned[-1].seconds)} ms), pricing "
                     f"{_s(service[-1].seconds)} ms, gunicorn peer {_s(peer[-1].seconds)} ms")
        progress("profiling pricing's start (-X importtime)")
        bare, imports, ranked = import_profile(seeded)
    facts.append(("other processes' CPU meanwhile", others.describe()))
    ratios = [s.seconds / p.seconds for s, p in zip(service, peer, strict=True)]
    plot(first, again, spawned, service, peer, plot_path("s4", args.output))
    return _report(args, facts, (first, again, spawned), service, peer, ratios,
                   (bare, imports, ranked))


def _report(args: argparse.Namespace, facts: list[tuple[str, str]],
            platforms: tuple[list[PlatformStart], list[PlatformStart], list[PlatformStart]],
            service: list[Start], peer: list[Start], ratios: list[float],
            profile: tuple[float, float, list[tuple[str, float]]]) -> str:
    first, again, spawned = platforms
    bare, profiled, ranked = profile
    fork_ratios = [f.seconds / b.seconds for f, b in zip(first, spawned, strict=True)]
    imports = sum(sec for _, sec in ranked)
    rows = [
        ["platform: `zeroshop up`, empty folder, to /readyz 200", *_spread(first),
         f"{spread(fork_ratios)} of new interpreters"],
        ["platform: `zeroshop up` again, data present, to /readyz 200", *_spread(again), "-"],
        ["platform before the fork server: `ZEROSHOP_FORK=0 zeroshop up` (every process a "
         "new interpreter), empty folder", *_spread(spawned), "1.00x"],
        ["one service: pricing, spawn to first get_price reply", *_spread(service),
         f"{spread(ratios)} of the peer"],
        [f"peer: Flask + SQLAlchemy under gunicorn ({args.workers} sync workers), spawn to "
         "first HTTP reply", *_spread(peer), "1.00x"],
    ]
    cpu: dict[str, list[float]] = defaultdict(list)
    for start in first:
        for name, seconds in start.cpu.items():
            cpu[name].append(seconds)
    cpu_rows = sorted(((name, statistics.median(values)) for name, values in cpu.items()),
                      key=lambda kv: kv[1], reverse=True)
    total_cpu = sum(v for _, v in cpu_rows)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    first_median = statistics.median(p.seconds for p in first)
    again_median = statistics.median(p.seconds for p in again)
    service_median = statistics.median(s.seconds for s in service)
    service_cpu = statistics.median(s.cpu for s in service)
    top = ranked[:12]
    return "\n\n".join([
        "## S4: cold start, `zeroshop up` to /readyz and one service to its first reply "
        "(bench/s4_cold_start.py)",
        f"Reproduce: `make bench-s4` (or `.venv/bin/python -m bench.s4_cold_start --rounds "
        f"{args.rounds} --workers {args.workers}`)",
        "The project's modules and the peer's are compiled to bytecode first, as "
        "deploy/Dockerfile does at build and `make` at install (with PYTHONDONTWRITEBYTECODE "
        "set, as the machine table says, nothing else would cache them and every start "
        "would compile them from source). "
        f"A warm-up start of pricing and of its peer, untimed, then {args.rounds} rounds; "
        "in each, the platform on an empty scratch folder as shipped (its processes forked "
        "from one warm interpreter, shared/forkserver.py) and with `ZEROSHOP_FORK=0` (each "
        "process a new interpreter, as before), interleaved, then the first folder again "
        "(data present), then pricing and its gunicorn peer, interleaved, both on one seeded "
        "SQLite file; each pair's first arm alternates by round. Milliseconds from "
        "spawning the process until it answered, and the CPU time its processes used until then "
        "(on a shared machine wall time stretches with the other load, CPU time much less); "
        "the ratios are wall times per round: the platform against its start before the "
        "fork server, pricing against its peer.",
        table(["start", "median ms", "min ms", "max ms", "CPU ms (all its processes)",
               "ratio per round (median, min-max)"], rows),
        f"![S4: start times per round]({plot_path('s4', args.output).name})",
        table(["target", "measured (median)", ""], [
            ["platform, empty folder: <= 2 s", f"{first_median:.2f} s",
             verdict(first_median <= TARGET_PLATFORM_S)],
            ["platform, data present: <= 2 s", f"{again_median:.2f} s",
             verdict(again_median <= TARGET_PLATFORM_S)],
            ["one service to first reply: <= 300 ms", f"{_s(service_median)} ms",
             verdict(service_median <= TARGET_SERVICE_S)],
        ]),
        f"Pricing's CPU alone until its first reply ({_s(service_cpu)} ms) "
        + ("fits in the 300 ms target." if service_cpu <= TARGET_SERVICE_S else
           "is over the 300 ms target: on an idle machine too it would miss."),
        f"Where the platform's start went (empty folder, median CPU seconds per process "
        f"until /readyz answered): {total_cpu:.2f} CPU-s in all against "
        f"{first_median:.2f} s x {cores} CPUs = {first_median * cores:.2f} CPU-s of wall "
        "time. The fork server imports the common stack once (its row) and every process "
        "forked from it does only its own part (its schema, its seed, binding); they share "
        f"the cores with whatever else runs, and on {cores} idle CPUs the same work would "
        f"still take at least {total_cpu / cores:.2f} s.",
        table(["process", "CPU s until ready"], [[n, f"{v:.2f}"] for n, v in cpu_rows]),
        f"Where pricing's start went: one more start under `python -X importtime` took "
        f"{_s(profiled)} ms to its first reply, {_s(imports)} ms of it "
        f"({imports / profiled * 100:.0f}%) importing modules, the rest starting the "
        "interpreter (alone, with nothing to import: "
        f"{_s(bare)} ms), checking the schema and the seed, binding and answering. The "
        "heaviest top-level packages by their modules' own import time:",
        table(["package", "import ms"], [[name, _s(sec)] for name, sec in top]),
        table(["machine", ""], [list(f) for f in facts]),
    ])


def interruptible() -> None:
    """SIGTERM, and SIGINT even in a background job (which starts with it ignored), end the
    run through its `finally` blocks, so every process it started is stopped."""
    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    interruptible()
    text = run(args)
    write_section(args.output, "s4", text)
    progress(f"wrote the s4 section of {args.output} and {plot_path('s4', args.output)}")


if __name__ == "__main__":
    main()
