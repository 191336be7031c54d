"""`zeroshop keys generate DIR`: the platform's CurveZMQ keys, one pair per process name."""

from __future__ import annotations

import os
from pathlib import Path

import click
from zmq.auth import create_certificates

from shared.config import ALL_SERVICES

from . import main

KEY_NAMES = (*ALL_SERVICES, "gateway", "cli")


@main.group()
def keys() -> None:
    """CurveZMQ keys (ZEROSHOP_CURVE_KEYS=DIR turns CURVE on; see docs/SECURITY.md)."""


@keys.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace keys that are already there.")
@click.option("--if-missing", is_flag=True,
              help="Do nothing if FOLDER already holds every key (for init jobs).")
def generate(folder: Path, force: bool, if_missing: bool) -> None:
    """Write NAME.key (public) and NAME.key_secret (secret, mode 0600) into FOLDER for every
    service, the gateway and the CLI (pyzmq's certificate format)."""
    files = [p for n in KEY_NAMES for p in (folder / f"{n}.key", folder / f"{n}.key_secret")]
    existing = sorted(p.name for p in files if p.exists())
    if if_missing and len(existing) == len(files):
        click.echo(f"{folder} already holds every key; nothing written")
        return
    if existing and not force:
        raise click.ClickException(
            f"{folder} already holds keys ({', '.join(existing[:3])}"
            f"{' ...' if len(existing) > 3 else ''}); --force replaces them (every process "
            f"must then be restarted with the new folder)")
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    previous = os.umask(0o077)  # a secret is never readable by others, not even for a moment
    try:
        for name in KEY_NAMES:
            public, secret = (Path(p) for p in create_certificates(folder, name))
            secret.chmod(0o600)
            public.chmod(0o644)
    finally:
        os.umask(previous)
    click.echo(f"wrote {len(KEY_NAMES)} keypairs to {folder}: {', '.join(KEY_NAMES)}")
    click.echo(f"turn CURVE on with: export ZEROSHOP_CURVE_KEYS={folder}")
