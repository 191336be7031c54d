"""`zeroshop trace ID`: every log line of every process that carried one request id."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from shared.config import data_dir
from shared.logs import log_files

from . import main


def default_log_dir() -> Path:
    """Where `zeroshop up` has its processes write their logs."""
    return Path(os.environ.get("ZEROSHOP_LOG_DIR") or data_dir(os.environ) / "logs")


def lines_of(trace: str, log_dir: Path) -> list[dict[str, Any]]:
    """The JSON log lines carrying `trace`, oldest first (lines that are not JSON are skipped)."""
    found: list[dict[str, Any]] = []
    for path in log_files(log_dir):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for raw in lines:
                if trace not in raw:  # cheap before parsing
                    continue
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if isinstance(line, dict) and line.get("trace") == trace:
                    found.append(line)
    return sorted(found, key=lambda line: str(line.get("time", "")))


@main.command()
@click.argument("trace_id")
@click.option("--log-dir", type=click.Path(path_type=Path),
              help="Where the logs are (default: ZEROSHOP_LOG_DIR, else <data dir>/logs).")
@click.option("--json", "as_json", is_flag=True, help="Print the log lines as JSON.")
def trace(trace_id: str, log_dir: Path | None, as_json: bool) -> None:
    """Follow one request (its X-Request-ID) through every process's log, in time order."""
    folder = log_dir or default_log_dir()
    if not folder.is_dir():
        raise click.ClickException(f"no logs in {folder} (`zeroshop up` writes them there; "
                                   "--log-dir or ZEROSHOP_LOG_DIR points elsewhere)")
    found = lines_of(trace_id, folder)
    if not found:
        raise click.ClickException(f"no log line carries trace {trace_id!r} in {folder}")
    for line in found:
        if as_json:
            click.echo(json.dumps(line))
            continue
        click.echo(f"{str(line.get('time', ''))[11:23]}  {line.get('service', '?'):<15} "
                   f"{line.get('level', ''):<8} {line.get('message', '')}")
