"""S4 cold start: how long until ZeroShop answers, from nothing running.

The platform: `zeroshop up` on an empty scratch folder (free loopback ports, every database
created, migrated and seeded) until the gateway's /readyz answers 200, and again on the
folder it left (data present). One service: pricing, spawned on a seeded folder, until its
first get_price reply; beside it, in the same rounds and interleaved, the same lookup as a
Flask + SQLAlchemy app under gunicorn sync workers (bench/peers/pricing_gunicorn.py, on the
same SQLite file) until its first HTTP reply. Then where the time went: each process's CPU
until the platform was ready, and pricing's start split into interpreter, imports
(`python -X importtime`) and the rest. Writes the `cold-start` section of docs/BENCHMARKS.md.

    .venv/bin/python -m bench.cold_start --rounds 5
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

from .common import OtherLoad, cpu_seconds, machine_facts, progress, table, write_section

REPORT = Path("docs/BENCHMARKS.md")
PEER_APP = "bench.peers.pricing_gunicorn:app"
START_WITHIN_S = 120.0
POLL_S = 0.005  # fine enough for a start measured in hundreds of milliseconds
TARGET_PLATFORM_S = 2.0
TARGET_SERVICE_S = 0.3


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn workers of the peer (default: gunicorn's own advice, "
                             "2 x CPUs + 1)")
    parser.add_argument("--report", type=Path, default=REPORT)
    return parser.parse_args(argv)


# --- starting and stopping, shared with bench/memory.py ----------------------------------------

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


def start_up(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`zeroshop up` from `data`; returns the process and the gateway's base URL."""
    env = quiet_env(data)
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


def platform_start(data: Path) -> PlatformStart:
    began = time.perf_counter()
    up, url = start_up(data)
    with stopping(up):
        wait_http_ok(url + "/readyz", up, data / "up.log")
        took = time.perf_counter() - began
        cpu = {"zeroshop up": cpu_seconds(up.pid)}
        state = running.read(data)
        for name, process in (state.processes.items() if state else ()):
            cpu[name] = cpu_seconds(process.pid)
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


def _verdict(value: float, target: float) -> str:
    return f"**met** (<= {_s(target)} ms)" if value <= target else \
        f"**missed** (target <= {_s(target)} ms)"


def run(args: argparse.Namespace) -> str:
    facts = machine_facts()
    others = OtherLoad()
    first: list[PlatformStart] = []
    again: list[PlatformStart] = []
    service: list[Start] = []
    peer: list[Start] = []
    with tempfile.TemporaryDirectory(prefix="zeroshop-cold-start-") as folder:
        scratch = Path(folder)
        progress("seeding a pricing database for the one-service rounds")
        seeded = seeded_folder(scratch)
        progress("warm-up: pricing and its peer once each, untimed (files in the page cache)")
        service_start(seeded)
        peer_start(seeded, args.workers)
        for number in range(1, args.rounds + 1):
            data = scratch / f"platform-{number}"
            data.mkdir()
            first.append(platform_start(data))
            again.append(platform_start(data))
            # Interleaved, and each arm first in every other round.
            arms = [("service", lambda: service.append(service_start(seeded))),
                    ("peer", lambda: peer.append(peer_start(seeded, args.workers)))]
            for _, measure in arms if number % 2 else reversed(arms):
                measure()
            progress(f"round {number}/{args.rounds}: platform {_s(first[-1].seconds)} ms "
                     f"(again {_s(again[-1].seconds)} ms), pricing "
                     f"{_s(service[-1].seconds)} ms, gunicorn peer {_s(peer[-1].seconds)} ms")
        progress("profiling pricing's start (-X importtime)")
        bare, imports, ranked = import_profile(seeded)
    facts.append(("other processes' CPU meanwhile", others.describe()))
    ratios = [s.seconds / p.seconds for s, p in zip(service, peer, strict=True)]
    return _report(args, facts, first, again, service, peer, ratios, (bare, imports, ranked))


def _report(args: argparse.Namespace, facts: list[tuple[str, str]],
            first: list[PlatformStart], again: list[PlatformStart], service: list[Start],
            peer: list[Start], ratios: list[float],
            profile: tuple[float, float, list[tuple[str, float]]]) -> str:
    bare, profiled, ranked = profile
    imports = sum(sec for _, sec in ranked)
    rows = [
        ["platform: `zeroshop up`, empty folder, to /readyz 200", *_spread(first), "-"],
        ["platform: `zeroshop up` again, data present, to /readyz 200", *_spread(again), "-"],
        ["one service: pricing, spawn to first get_price reply", *_spread(service),
         f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"],
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
    service_median = statistics.median(s.seconds for s in service)
    service_cpu = statistics.median(s.cpu for s in service)
    top = ranked[:12]
    return "\n\n".join([
        "## S4 cold start: `zeroshop up` to /readyz, one service to its first reply "
        "(bench/cold_start.py)",
        f"`.venv/bin/python -m bench.cold_start --rounds {args.rounds} --workers "
        f"{args.workers}`",
        f"A warm-up start of pricing and of its peer, untimed, then {args.rounds} rounds; "
        "in each, the platform twice (an empty scratch folder, then "
        "the same folder again), then pricing and its gunicorn peer, interleaved (each arm "
        "first in every other round), both on one seeded SQLite file. Milliseconds from "
        "spawning the process until it answered, and the CPU time its processes used until then "
        "(on a shared machine wall time stretches with the other load, CPU time much less); "
        "the ratio is pricing / peer wall time per round (median, min-max).",
        table(["start", "median ms", "min ms", "max ms", "CPU ms (all its processes)",
               "vs peer"], rows),
        f"Targets: the platform {_verdict(first_median, TARGET_PLATFORM_S)} on an empty "
        f"folder, {_verdict(statistics.median(p.seconds for p in again), TARGET_PLATFORM_S)}"
        f" with data present; one service {_verdict(service_median, TARGET_SERVICE_S)}, "
        f"and its CPU alone ({_s(service_cpu)} ms) "
        + ("fits in the target." if service_cpu <= TARGET_SERVICE_S else
           "is over it: on an idle machine too it would miss."),
        f"Where the platform's start went (empty folder, median CPU seconds per process "
        f"until /readyz answered): {total_cpu:.2f} CPU-s in all against "
        f"{first_median:.2f} s x {cores} CPUs = {first_median * cores:.2f} CPU-s of wall "
        "time. Every process imports its stack at once and they share the cores with "
        f"whatever else runs; on {cores} idle CPUs the same work would still take at least "
        f"{total_cpu / cores:.2f} s.",
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
    write_section(args.report, "cold-start", text)
    progress(f"wrote the cold-start section of {args.report}")


if __name__ == "__main__":
    main()
