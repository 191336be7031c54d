"""Helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from shared.messaging import Call, RpcClient, new_context


def table(rows: Sequence[Sequence[str]],
          headers: Sequence[str] = ("SERVICE", "ENDPOINT", "STATE")) -> None:
    """Print `rows` in columns as wide as their widest cell."""
    columns = zip(headers, *rows, strict=True)
    widths = [max(len(str(cell)) for cell in column) + 2 for column in columns]
    for row in (headers, *rows):
        click.echo("".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True))
                   .rstrip())


def gather(endpoints: dict[str, str], calls: list[Call[Any]], timeout_ms: int) -> list[Any]:
    """Make `calls` at once with a client of our own, closed afterwards."""
    ctx = new_context()
    client = RpcClient(ctx, endpoints)
    try:
        return client.gather(calls, timeout_ms)
    finally:
        client.close()
        ctx.term()
