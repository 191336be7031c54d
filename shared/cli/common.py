"""Helpers shared by the commands."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import click

from shared.config import curve_keys
from shared.messaging import Call, CurveError, Keyring, RpcClient, new_context


def table(rows: Sequence[Sequence[str]],
          headers: Sequence[str] = ("SERVICE", "ENDPOINT", "STATE")) -> None:
    """Print `rows` in columns as wide as their widest cell."""
    columns = zip(headers, *rows, strict=True)
    widths = [max(len(str(cell)) for cell in column) + 2 for column in columns]
    for row in (headers, *rows):
        click.echo("".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True))
                   .rstrip())


def cli_keys() -> Keyring | None:
    """The CLI's CURVE keys (the key named `cli`) when ZEROSHOP_CURVE_KEYS is set."""
    folder = curve_keys(os.environ)
    if folder is None:
        return None
    try:
        return Keyring.load(folder, "cli")
    except CurveError as exc:
        raise click.ClickException(str(exc)) from None


def gather(endpoints: dict[str, str], calls: list[Call[Any]], timeout_ms: int) -> list[Any]:
    """Make `calls` at once with a client of our own, closed afterwards."""
    ctx = new_context(cli_keys())
    client = RpcClient(ctx, endpoints)
    try:
        return client.gather(calls, timeout_ms)
    finally:
        client.close()
        ctx.term()
