"""`zeroshop chaos`: soak a running platform under random kills and freezes, then check."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
from contextlib import ExitStack
from pathlib import Path

import click
import msgspec

from shared import running
from shared.chaos import ChaosOptions, NotRunning, Report, run_chaos
from shared.chaos.scratch import ScratchStartError, scratch_platform
from shared.config import ALL_SERVICES, data_dir

from . import main
from .common import cli_keys, table

VICTIMS = (*ALL_SERVICES, "gateway")


@main.command()
@click.option("--duration", type=click.FloatRange(5, 7 * 86400), default=60.0,
              show_default=True, help="Seconds of load and faults.")
@click.option("--interval", type=click.FloatRange(0.2, 3600), default=5.0, show_default=True,
              help="Seconds between two faults.")
@click.option("--stop-share", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of the faults that SIGSTOP a process for 1-3 s instead of SIGKILL.")
@click.option("--browsers", type=click.IntRange(0, 64), default=3, show_default=True)
@click.option("--buyers", type=click.IntRange(0, 64), default=2, show_default=True,
              help="Clients placing orders (each retries a 503 with the same key).")
@click.option("--victims", default=",".join(VICTIMS), show_default=True,
              help="Comma-separated processes the faults may hit.")
@click.option("--seed", type=int, help="Seed of the shoppers and of the faults.")
@click.option("--scratch", is_flag=True,
              help="Soak a throwaway platform (temporary folder, free ports) started for the "
                   "run, instead of the one `zeroshop up` runs from ZEROSHOP_DATA_DIR.")
@click.option("--postgres", metavar="URL",
              help="With --scratch: fresh PostgreSQL databases on this server, dropped "
                   "afterwards (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def chaos(duration: float, interval: float, stop_share: float, browsers: int, buyers: int,
          victims: str, seed: int | None, scratch: bool, postgres: str | None,
          as_json: bool) -> None:
    """Browse and buy while random processes are killed (SIGKILL) or frozen (SIGSTOP), then
    check every invariant: orders settled, stock exact, one email and one SMS per order, no
    dead letters, no 5xx but 503, every process back. Exits 1 if one is broken."""
    chosen = tuple(v for v in victims.split(",") if v)
    unknown = sorted(set(chosen) - set(VICTIMS))
    if unknown or not chosen:
        raise click.BadParameter(f"unknown process(es) {', '.join(unknown) or '(none given)'}; "
                                 f"known: {', '.join(VICTIMS)}", param_hint="--victims")
    if postgres and not scratch:
        raise click.BadParameter("only a --scratch platform gets fresh databases",
                                 param_hint="--postgres")
    options = ChaosOptions(duration_s=duration, interval_s=interval, stop_share=stop_share,
                           browsers=browsers, buyers=buyers, victims=chosen,
                           seed=random.randrange(1 << 30) if seed is None else seed)
    signal.signal(signal.SIGTERM, _interrupt)
    with ExitStack() as stack:
        folder = data_dir(os.environ)
        if scratch:
            click.echo("chaos: starting a scratch platform ...", err=True)
            try:
                folder = stack.enter_context(scratch_platform(dict(os.environ), postgres))
            except ScratchStartError as exc:
                raise click.ClickException(str(exc)) from None
        try:
            report = run_chaos(lambda: running.read(folder), options,
                               lambda line: click.echo(line, err=True), cli_keys())
        except NotRunning as exc:
            raise click.ClickException(str(exc)) from None
    _print(report, as_json, folder)
    if not report.held:
        raise SystemExit(1)


def _interrupt(_signum: int, _frame: object) -> None:
    # SIGTERM ends a run as Ctrl-C does: frozen processes are thawed, a scratch one stopped.
    raise KeyboardInterrupt


def _print(report: Report, as_json: bool, folder: Path) -> None:
    kinds = {k: sum(f.kind == k for f in report.faults) for k in ("kill", "stop")}
    if as_json:
        click.echo(msgspec.json.encode({
            "held": report.held, "seconds": round(report.seconds, 1), "orders": report.orders,
            "accepted": len(report.tally.accepted), "pages": sum(report.tally.pages.values()),
            "kills": kinds["kill"], "stops": kinds["stop"],
            "faults": [dataclasses.asdict(f) for f in report.faults],
            "statuses": {"pages": dict(report.tally.pages), "orders": dict(report.tally.orders)},
            "unreachable": report.tally.unreachable, "seed": report.options.seed,
            "verdicts": [dataclasses.asdict(v) for v in report.verdicts]}).decode())
        return
    click.echo(f"\n{report.orders} orders, {sum(report.tally.pages.values())} pages, "
               f"{kinds['kill']} kills, {kinds['stop']} stops in {report.seconds:.0f} s "
               f"(seed {report.options.seed}, data {folder})")
    table([("held" if v.held else "BROKEN", v.invariant, v.detail) for v in report.verdicts],
          ("", "INVARIANT", "DETAIL"))
    click.echo("every invariant held" if report.held else "an invariant was broken")
