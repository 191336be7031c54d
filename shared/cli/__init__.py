"""The `zeroshop` command: run the platform, check it, call a service by hand, watch and
operate the event bus. One module per group of commands."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """ZeroShop: an e-commerce platform on ZeroMQ, Flask and SQLAlchemy."""


from . import bus, chaos, keys, platform, trace  # noqa: E402,F401 - registers the commands on `main`
