"""S5 memory: the proportional set size (PSS, /proc/PID/smaps_rollup: shared pages split
between the processes that share them, so the sizes add up) of every ZeroShop process and of
the whole platform, at rest and under load; beside it the same pricing lookup as a Flask +
SQLAlchemy app under gunicorn sync workers (bench/peers/pricing_gunicorn.py), and RabbitMQ's
broker process (beam.smp) as found on this machine, if it runs.

At rest: right after /readyz answered 200 (the peer: after its first reply). Under load:
closed-loop clients (product pages through the gateway; prices from the peer), PSS sampled
every half second, the largest sample kept. Writes the `memory` section of
docs/BENCHMARKS.md.

    .venv/bin/python -m bench.s5_memory --clients 16 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from shared import running
from shared.catalog_seed import PRODUCT_COUNT
from shared.config import ALL_SERVICES

from .common import (
    REPORT,
    HttpSession,
    machine_facts,
    new_figure,
    plot_path,
    progress,
    save_figure,
    table,
    verdict,
    write_section,
)
from .s4_cold_start import (
    children_of,
    descendants_of,
    interruptible,
    seeded_folder,
    start_peer,
    start_up,
    stopping,
    wait_http_ok,
)

SAMPLE_S = 0.5
MIB = 1024 * 1024
TARGET_SERVICE_MIB = 60.0
TARGET_PLATFORM_MIB = 500.0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.s5_memory", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per arm")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn workers of the peer (default: gunicorn's own advice, "
                             "2 x CPUs + 1)")
    parser.add_argument("--output", type=Path, default=REPORT,
                        help="the report to rewrite the s5 section of (and its plot beside it)")
    return parser.parse_args(argv)


def pss_bytes(pid: int) -> int | None:
    """PSS of one process in bytes, or None if it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def find_processes(command_name: str) -> list[int]:
    """Every process whose name (/proc/PID/comm) is `command_name`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == command_name:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def snapshot(pids: dict[str, int]) -> dict[str, int]:
    sizes = {name: pss_bytes(pid) for name, pid in pids.items()}
    return {name: size for name, size in sizes.items() if size is not None}


class Peaks:
    """The largest PSS of each process, and of their sum, sampled while load runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self.each: dict[str, int] = {}
        self.total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            sizes = snapshot(self._pids)
            for name, size in sizes.items():
                self.each[name] = max(self.each.get(name, 0), size)
            self.total = max(self.total, sum(sizes.values()))
            if self._stop.wait(SAMPLE_S):
                return

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def closed_loop(url: str, path_for: Callable[[random.Random], str], clients: int,
                seconds: float) -> int:
    """`clients` threads, each one keep-alive connection, requesting back to back for
    `seconds`; returns how many answers were 200."""
    end = time.monotonic() + seconds
    counts = [0] * clients

    def client(index: int) -> None:
        rng = random.Random(index)
        session = HttpSession(url)
        try:
            while time.monotonic() < end:
                status, _ = session.get(path_for(rng))
                counts[index] += status == 200
        finally:
            session.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def _page(rng: random.Random) -> str:
    return f"/api/products/{rng.randint(1, PRODUCT_COUNT)}"


def _price(rng: random.Random) -> str:
    return f"/prices/{rng.randint(1, PRODUCT_COUNT)}"


def rest_then_load(what: str, pids: dict[str, int], url: str,
                   path_for: Callable[[random.Random], str], args: argparse.Namespace
                   ) -> tuple[dict[str, int], Peaks, int]:
    """PSS now, then the peaks under closed-loop load; and how many answers were 200."""
    rest = snapshot(pids)
    progress(f"{what} at rest: {sum(rest.values()) / MIB:.0f} MiB; {args.clients} clients "
             f"for {args.seconds:g} s")
    with Peaks(pids) as peaks:
        answered = closed_loop(url, path_for, args.clients, args.seconds)
    return rest, peaks, answered


def measure_platform(scratch: Path, args: argparse.Namespace
                     ) -> tuple[dict[str, int], Peaks, int]:
    data = scratch / "platform"
    data.mkdir()
    progress("starting the platform (zeroshop up)")
    up, url = start_up(data)
    with stopping(up):
        wait_http_ok(url + "/readyz", up, data / "up.log")
        state = running.read(data)
        assert state is not None, "zeroshop up wrote no state file"
        pids = {"zeroshop up (supervisor)": up.pid,
                **{name: p.pid for name, p in state.processes.items()}}
        # The fork server (its children's shared pages are split with it) and
        # multiprocessing's resource tracker belong to the platform too.
        known = set(pids.values())
        helpers = [pid for pid in descendants_of(up.pid) if pid not in known]
        for pid in helpers:
            pids[_helper_name(pid)] = pid
        return rest_then_load("platform", pids, url, _page, args)


def _helper_name(pid: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"helper (pid {pid})"
    for module, name in ((b"multiprocessing.forkserver", "fork server"),
                         (b"multiprocessing.resource_tracker", "resource tracker")):
        if module in command:
            return name
    return f"helper (pid {pid})"


def measure_peer(scratch: Path, args: argparse.Namespace) -> tuple[dict[str, int], Peaks, int]:
    progress("seeding pricing's database for the gunicorn peer")
    seeded = seeded_folder(scratch)
    peer, url = start_peer(seeded, args.workers)
    with stopping(peer):
        wait_http_ok(url + "/prices/1", peer, seeded / "peer.log")
        # Every worker is forked before the rest is read (gunicorn forks them one by one).
        deadline = time.monotonic() + 60
        while len(children_of(peer.pid)) < args.workers and time.monotonic() < deadline:
            time.sleep(0.01)
        pids = {"gunicorn master": peer.pid,
                **{f"worker {i}": pid for i, pid in enumerate(children_of(peer.pid), 1)}}
        # A second of requests from twice as many clients: every sync worker has imported
        # the app and served (the platform's services have answered /readyz's health calls).
        closed_loop(url, _price, args.workers * 2, 1.0)
        return rest_then_load("gunicorn peer", pids, url, _price, args)


def _mib(size: int | None) -> str:
    return "n/a" if size is None else f"{size / MIB:.1f}"


def _verdict(size: float, target_mib: float) -> str:
    return verdict(size / MIB <= target_mib)


def plot(rest: dict[str, int], peaks: Peaks, path: Path) -> None:
    """PSS per ZeroShop process at rest and under load, beside the per-service target."""
    figure, axes = new_figure(8, 4.2)
    names = list(rest)
    at = range(len(names))
    axes.bar([x - 0.2 for x in at], [rest[n] / MIB for n in names], width=0.4, label="at rest")
    axes.bar([x + 0.2 for x in at], [peaks.each.get(n, 0) / MIB for n in names], width=0.4,
             label="under load")
    axes.axhline(TARGET_SERVICE_MIB, color="red", linestyle="--", label="per-service target")
    labels = ["supervisor" if n.startswith("zeroshop up") else n for n in names]
    axes.set_xticks(list(at), labels, rotation=30, ha="right")
    axes.set_ylim(0, TARGET_SERVICE_MIB * 1.35)  # room for the legend above the bars
    axes.set_ylabel("PSS MiB")
    axes.set_title(f"S5: memory per process (whole platform {peaks.total / MIB:.0f} MiB "
                   f"under load, target {TARGET_PLATFORM_MIB:g} MiB)")
    axes.grid(alpha=0.3, axis="y")
    axes.legend(loc="upper left", ncols=3)
    save_figure(figure, path)


def run(args: argparse.Namespace) -> str:
    facts = machine_facts()
    with tempfile.TemporaryDirectory(prefix="zeroshop-memory-") as folder:
        scratch = Path(folder)
        rest, peaks, pages = measure_platform(scratch, args)
        peer_rest, peer_peaks, prices = measure_peer(scratch, args)
    plot(rest, peaks, plot_path("s5", args.output))
    brokers = find_processes("beam.smp")
    broker = {f"beam.smp (pid {pid})": pss_bytes(pid) for pid in brokers}
    return _report(args, facts, (rest, peaks, pages), (peer_rest, peer_peaks, prices), broker)


def _report(args: argparse.Namespace, facts: list[tuple[str, str]],
            platform: tuple[dict[str, int], Peaks, int],
            peer: tuple[dict[str, int], Peaks, int], broker: dict[str, int | None]) -> str:
    rest, peaks, pages = platform
    peer_rest, peer_peaks, prices = peer
    services = [n for n in rest if n in ALL_SERVICES]
    rows = [[name, _mib(rest[name]), _mib(peaks.each.get(name)),
             _verdict(max(rest[name], peaks.each.get(name, 0)), TARGET_SERVICE_MIB)
             if name in services else "-"] for name in rest]
    rest_total, load_total = sum(rest.values()), peaks.total
    rows.append(["**the whole platform**", _mib(rest_total), _mib(load_total),
                 _verdict(max(rest_total, load_total), TARGET_PLATFORM_MIB)])
    peer_rows = [[name, _mib(peer_rest[name]), _mib(peer_peaks.each.get(name))]
                 for name in peer_rest]
    peer_rest_total = sum(peer_rest.values())
    peer_rows.append([f"**the peer: master + {len(peer_rest) - 1} workers**",
                      _mib(peer_rest_total), _mib(peer_peaks.total)])
    workers = [size for name, size in peer_rest.items() if name.startswith("worker")]
    pricing = rest.get("pricing", 0)
    service_sizes = [rest[n] for n in services]
    missed = [n for n in services
              if max(rest[n], peaks.each.get(n, 0)) / MIB > TARGET_SERVICE_MIB]
    broker_text = (table(["RabbitMQ broker", "PSS MiB (as found, not loaded here)"],
                         [[name, _mib(size)] for name, size in broker.items()])
                   if broker else "RabbitMQ's broker (beam.smp) was not running on this "
                   "machine: no row for it.")
    return "\n\n".join([
        "## S5: memory, PSS per process and for the whole platform (bench/s5_memory.py)",
        f"Reproduce: `make bench-s5` (or `.venv/bin/python -m bench.s5_memory --clients "
        f"{args.clients} --seconds {args.seconds:g} --workers {args.workers}`)",
        "PSS from /proc/PID/smaps_rollup, in MiB: a page shared by n processes counts 1/n "
        "in each, so the rows add up to what the group really takes. `zeroshop up` forks "
        "its processes from one fork server that imported the common stack, so those pages "
        "are shared copy-on-write (the fork server's row holds its share). At rest: right after "
        "the first good answer. Under load: the largest of samples taken every "
        f"{SAMPLE_S:g} s while {args.clients} closed-loop clients ran for {args.seconds:g} s "
        f"({pages} product pages through the gateway; {prices} prices from the peer).",
        table(["ZeroShop process", "at rest MiB", "under load MiB", "target <= 60 MiB "
               "per service, <= 500 MiB in all"], rows),
        f"![S5: PSS per process]({plot_path('s5', args.output).name})",
        f"Per service at rest: median {_mib(int(statistics.median(service_sizes)))} MiB "
        f"(pricing {_mib(pricing)} MiB). Targets: per service "
        + (f"**missed** by {', '.join(missed)}" if missed else "met by every service")
        + f"; the whole platform {_verdict(max(rest_total, load_total), TARGET_PLATFORM_MIB)}"
        f" ({_mib(max(rest_total, load_total))} MiB at most).",
        f"The same pricing lookup as a Flask + SQLAlchemy app under gunicorn "
        f"({args.workers} sync workers, gunicorn's advice for this machine), on the same "
        "SQLite file:",
        table(["gunicorn process", "at rest MiB", "under load MiB"], peer_rows),
        f"At rest the pricing service, one process, is {pricing / peer_rest_total:.2f}x "
        f"the peer's whole footprint ({_mib(pricing)} against {_mib(peer_rest_total)} MiB) "
        f"and {pricing / statistics.median(workers):.2f}x one of its workers (median "
        f"{_mib(int(statistics.median(workers)))} MiB): a worker holds Flask and the ORM, "
        "a ZeroShop service also the runtime's imports (ZeroMQ, msgspec, migrations, "
        "metrics)."
        if workers and peer_rest_total else "The peer's workers could not be read.",
        broker_text,
        table(["machine", ""], [list(f) for f in facts]),
    ])


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    interruptible()
    text = run(args)
    write_section(args.output, "s5", text)
    progress(f"wrote the s5 section of {args.output} and {plot_path('s5', args.output)}")


if __name__ == "__main__":
    main()
