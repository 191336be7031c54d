"""What every benchmark shares: the product page's five calls, timing statistics, progress
on stderr, machine facts, Markdown tables and the report file (one section per benchmark)."""

from __future__ import annotations

import datetime
import http.client
import json
import math
import os
import platform
import re
import signal
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
import zmq

from shared.contracts.discount import Discount, GetDiscount
from shared.contracts.inventory import GetStock, Stock
from shared.contracts.pricing import GetPrice, Price
from shared.contracts.product import GetProduct, Product
from shared.contracts.recommendation import Recommend, Recommendations
from shared.messaging import Call

_STARTED = time.monotonic()


def progress(message: str) -> None:
    """One line on stderr, with the seconds since the benchmark started."""
    print(f"[bench {time.monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


# --- the product page ---------------------------------------------------------------------

def page_calls(product_id: int) -> list[Call[Any]]:
    """The five calls gateway/products.py makes for one product page (same params)."""
    return [
        Call("product", "get", GetProduct(id=product_id), Product),
        Call("inventory", "get_stock", GetStock(product_id=product_id), Stock),
        Call("pricing", "get_price", GetPrice(product_id=product_id), Price),
        Call("discount", "get_discount", GetDiscount(product_id=product_id), Discount),
        Call("recommendation", "recommend", Recommend(product_id=product_id, limit=4),
             Recommendations),
    ]


def req_frame(call: Call[Any]) -> bytes:
    """The same call as the one JSON frame a plain zmq.REQ client sends (no id, no deadline)."""
    return msgspec.json.encode({"method": call.method, "params": call.params})


# --- statistics -----------------------------------------------------------------------------

def fill_defaults(args: Any, defaults: dict[str, Any], quick: dict[str, Any]) -> None:
    """Options left unset take their default, or their --quick value with --quick."""
    for key, default in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick.get(key, default) if args.quick else default)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    """Latencies of one variant, in milliseconds."""

    count: int
    median_ms: float
    p95_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Summary:
        if not seconds:
            return cls(0, math.nan, math.nan)
        return cls(len(seconds), percentile(seconds, 50) * 1000, percentile(seconds, 95) * 1000)


def fmt_ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def fmt_ratio(numerator: float, denominator: float) -> str:
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def spread(ratios: Sequence[float]) -> str:
    """'median x (min-max)' of per-round ratios: how every comparison is reported."""
    if not ratios:
        return "n/a"
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def verdict(met: bool) -> str:
    """A target's outcome, as the targets tables print it."""
    return "**met**" if met else "**missed**"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- threads -------------------------------------------------------------------------------

class Arrivals:
    """When each key was first seen by a consumer or watcher thread (perf_counter seconds);
    the main thread waits for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._at: dict[Hashable, float] = {}

    def mark(self, key: Hashable) -> None:
        now = time.perf_counter()
        with self._cond:
            self._at.setdefault(key, now)
            self._cond.notify_all()

    def wait(self, key: Hashable, timeout: float = 10.0) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: key in self._at, timeout)
            return self._at.get(key)


# --- processes and the machine --------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc; 0.0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_facts() -> list[tuple[str, str]]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("date (UTC)", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")),
        ("nproc (usable CPUs)", str(usable)),
        ("CPU", _cpu_model()),
        ("OS", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("pyzmq / libzmq", f"{zmq.__version__} / {zmq.zmq_version()}"),
        ("load average at start (1/5/15 min)", load_average()),
    ]


# --- HTTP -----------------------------------------------------------------------------------

class HttpSession:
    """One keep-alive HTTP/1.1 connection to the gateway (one per thread, like a browser tab)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                                timeout=timeout)

    def get(self, path: str) -> tuple[int, Any]:
        """(status, decoded JSON body); (0, None) when the connection failed."""
        try:
            self._conn.request("GET", path)
            response = self._conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()  # the next request opens a new connection
            return 0, None
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None

    def page_ok(self, product_id: int) -> bool:
        """A complete product page: 200 and no degraded section."""
        status, body = self.get(f"/api/products/{product_id}")
        return status == 200 and isinstance(body, dict) and body.get("degraded") == []

    def close(self) -> None:
        self._conn.close()


class OtherLoad:
    """How much CPU processes outside this benchmark used while it ran (Linux /proc/stat).

    Busy time of the whole machine minus this process and its waited-for children (the
    services and the gateway, once stopped): a noise indicator for a shared machine.
    """

    def __init__(self) -> None:
        self._start = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, float, float]:
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return math.nan, math.nan, math.nan
        busy = sum(fields[i] for i in (0, 1, 2, 5, 6, 7) if i < len(fields))
        times = os.times()
        ours = times.user + times.system + times.children_user + times.children_system
        return busy / os.sysconf("SC_CLK_TCK"), ours, time.monotonic()

    def describe(self) -> str:
        busy, ours, now = self._snapshot()
        busy0, ours0, then = self._start
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        if math.isnan(busy) or math.isnan(busy0) or now <= then:
            return "n/a"
        others = max(0.0, (busy - busy0) - (ours - ours0))
        return (f"{others:.1f} CPU-s in {now - then:.0f} s "
                f"(= {others / (now - then) / cores * 100:.0f}% of {cores} CPUs)")


def facts_at_end(others: OtherLoad, elapsed_s: float) -> list[tuple[str, str]]:
    """The machine facts a report adds after its run: the load then, what other processes
    used meanwhile, and how long the run took."""
    return [("load average at end (1/5/15 min)", load_average()),
            ("CPU used by other processes during the run", others.describe()),
            ("benchmark wall time", f"{elapsed_s:.0f} s")]


def stop_on_signals() -> None:
    """SIGTERM, and SIGINT even in a background job (started with it ignored), raise
    KeyboardInterrupt, so a benchmark's finally blocks stop every process it started."""
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


# --- the report: docs/BENCHMARKS.md, one delimited section per benchmark ----------------------

REPORT = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
SECTION_ORDER = ("s0", "s1", "s1-servers", "s2", "s3", "s4", "s5")
PREAMBLE = """# Benchmarks

Generated by the benchmarks themselves: edit the code in bench/, not the numbers. The
scenarios S0-S5 each compare ZeroShop with a baseline in the same run (interleaved rounds
after a warm-up; every ratio is the median of per-round ratios, with their min and max) and
each ends with its targets, met or missed. `make bench` runs all six in order (about 25
minutes) and `make bench-s0` ... `make bench-s5` one each; a section names the command that
wrote it and the machine it ran on, and `docs/bench-sN.png` is its plot. Each benchmark
rewrites only its own section (between its `<!-- bench:NAME begin/end -->` markers), so the
sections after S5 (the chaos soak, writer failover, the cost of CURVE) come from their own
commands, named in them. Benchmarks are not tests: nothing here passes or fails, the
numbers are for reading."""
_SECTION = re.compile(r"<!-- bench:([\w-]+) begin -->\n(.*?)\n<!-- bench:\1 end -->", re.S)


def write_section(path: Path, name: str, text: str) -> None:
    """Replace (or add) section `name` of the report at `path`, keeping every other section.

    A file without markers was written whole by the fan-out benchmark before sections
    existed: its text is kept as the fan-out section until that benchmark runs again.
    """
    try:
        old = path.read_text()
    except FileNotFoundError:
        old = ""
    sections = {m.group(1): m.group(2) for m in _SECTION.finditer(old)}
    if not sections and old.strip() and name != "fanout":
        sections["fanout"] = re.sub(r"\A# Benchmarks\s*", "", old.strip())
    sections[name] = text.strip()
    order = [n for n in SECTION_ORDER if n in sections]
    order += sorted(n for n in sections if n not in SECTION_ORDER)
    body = "".join(f"\n\n<!-- bench:{n} begin -->\n{sections[n]}\n<!-- bench:{n} end -->"
                   for n in order)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(PREAMBLE + body + "\n")
    os.replace(partial, path)


# --- plots: one PNG per scenario, docs/bench-sN.png ---------------------------------------------

def plot_path(scenario: str, report: Path) -> Path:
    """Where a scenario's plot goes: beside the report (docs/bench-s1.png for S1)."""
    return report.with_name(f"bench-{scenario}.png")


def new_figure(width: float = 7, height: float = 4.2, columns: int = 1) -> tuple[Any, Any]:
    """A matplotlib figure and its axes (a tuple of them when columns > 1), drawn
    off-screen (the `bench` extra has matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")  # a file, no display
    from matplotlib import pyplot

    return pyplot.subplots(1, columns, figsize=(width, height), dpi=110)


def save_figure(figure: Any, path: Path) -> None:
    from matplotlib import pyplot

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)
