"""Chaos soak, repeated: `zeroshop chaos --scratch` run after run on SQLite and on PostgreSQL,
each a fresh platform under browsing and ordering while random processes are killed
(SIGKILL) or frozen (SIGSTOP), then every invariant checked. Writes the `chaos` section of
docs/BENCHMARKS.md: one row per run, and how many runs in a row held everything.

Not a speed benchmark: it counts what the platform survived. About (duration + 35 s) per run.

    .venv/bin/python -m bench.resilience.chaos --runs 10 --duration 60
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..common import REPORT, machine_facts, progress, table, write_section

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.resilience.chaos", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="runs per database")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per run")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between faults")
    parser.add_argument("--databases", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server for the runs")
    parser.add_argument("--report", type=Path, default=REPORT)
    return parser.parse_args(argv)


def _soak(args: argparse.Namespace, database: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "shared.cli", "chaos", "--scratch", "--json",
               "--duration", str(args.duration), "--interval", str(args.interval)]
    if database == "postgres":
        command += ["--postgres", args.postgres]
    done = subprocess.run(command, capture_output=True, text=True,
                          timeout=args.duration + 400)
    if not done.stdout:
        return {"held": False, "error": done.stderr[-500:], "verdicts": []}
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _row(database: str, number: int, report: dict[str, Any]) -> list[str]:
    if "error" in report:
        return [database, str(number), "-", "-", "-", "-", "-", "-", "did not run"]
    statuses = report["statuses"]
    refusals = statuses["pages"].get("503", 0) + statuses["orders"].get("503", 0)
    broken = [v["invariant"] for v in report["verdicts"] if not v["held"]]
    return [database, str(number), str(report["seed"]), f"{report['seconds']:.0f}",
            str(report["orders"]), str(sum(report["statuses"]["pages"].values())),
            f"{report['kills']} / {report['stops']}", str(refusals),
            "all held" if not broken else "BROKEN: " + ", ".join(broken)]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    databases = [d for d in args.databases.split(",") if d]
    rows, held = [], {d: 0 for d in databases}
    for database in databases:
        for number in range(1, args.runs + 1):
            progress(f"{database} run {number} of {args.runs} ({args.duration:.0f} s) ...")
            report = _soak(args, database)
            rows.append(_row(database, number, report))
            held[database] += bool(report["held"])
            progress(f"{database} run {number}: {rows[-1][-1]} ({rows[-1][4]} orders)"
                     + (f"\n{report['error']}" if "error" in report else ""))
    command = (f".venv/bin/python -m bench.resilience.chaos --runs {args.runs} --duration "
               f"{args.duration:g} --interval {args.interval:g} --databases {args.databases}")
    text = "\n".join([
        "## Chaos soak: random kills and freezes under load",
        "",
        f"`{command}` (one run: `make chaos`, or `./zeroshop chaos --scratch`)",
        "",
        "Each run starts a fresh platform with `zeroshop up` (its own folder and ports), "
        "3 clients browsing and 2 placing orders (retrying a 503, a dropped connection or an "
        f"answer cut short, with the same Idempotency-Key), and every {args.interval:g} s "
        "SIGKILLs or SIGSTOPs (1-3 s) one "
        "random process that has been up for 10 s or more, the gateway included; `zeroshop "
        "up` restarts the killed. Then: every accepted order settled and no order made that no "
        "buyer was told of, stock moved by exactly "
        "the confirmed quantities, no stock below zero, one email and one SMS per settled "
        "order, no dead letters, no 5xx but documented 503s, every order eventually "
        "accepted, every process back.",
        "",
        table(["database", "run", "seed", "s", "orders", "pages", "kills / stops",
               "503s", "invariants"], rows),
        "",
        "; ".join(f"{d}: {held[d]} of {args.runs} runs held every invariant"
                  for d in databases) + ".",
        "",
        table(["machine", ""], [list(f) for f in machine_facts()]),
    ])
    write_section(args.report, "chaos", text)
    progress(f"wrote the chaos section of {args.report}")
    return 0 if all(held[d] == args.runs for d in databases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
