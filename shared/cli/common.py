"""Helpers shared by the commands."""

from __future__ import annotations

from typing import Any

import click

from shared.messaging import Call, RpcClient, new_context


def table(rows: list[tuple[str, str, str]]) -> None:
    click.echo(f"{'SERVICE':<16}{'ENDPOINT':<28}STATE")
    for name, endpoint, state in rows:
        click.echo(f"{name:<16}{endpoint:<28}{state}")


def gather(endpoints: dict[str, str], calls: list[Call[Any]], timeout_ms: int) -> list[Any]:
    """Make `calls` at once with a client of our own, closed afterwards."""
    ctx = new_context()
    client = RpcClient(ctx, endpoints)
    try:
        return client.gather(calls, timeout_ms)
    finally:
        client.close()
        ctx.term()
