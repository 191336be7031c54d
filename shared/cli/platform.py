"""Commands that run and check the platform: up, status, ping, call."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from typing import Any

import click
import msgspec

from shared.config import ALL_SERVICES, DEFAULT_PORTS, GatewayConfig, endpoint_for
from shared.contracts import SERVICES, Health, NoParams
from shared.messaging import Call
from shared.supervisor import ProcessGroup, StartError

from . import main
from .common import gather, table


@main.command()
@click.option("--services", default=",".join(ALL_SERVICES), show_default=True,
              help="Comma-separated services to start.")
def up(services: str) -> None:
    """Start every service and the gateway as local processes; Ctrl-C stops them all."""
    names = [s for s in services.split(",") if s]
    unknown = [s for s in names if s not in DEFAULT_PORTS]
    if unknown:
        raise click.BadParameter(f"unknown service(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(DEFAULT_PORTS)}", param_hint="--services")
    group = ProcessGroup()
    stopping: list[int] = []
    # Set both explicitly: a shell may start us with SIGINT ignored (`make run &`).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    env = dict(os.environ)
    try:
        click.echo(f"starting {', '.join(names)} and the gateway ...", err=True)
        try:
            for child in group.start_all([(n, f"services.{n}") for n in names], env):
                # The gateway connects where each service really bound (a bind may say "*").
                env[f"{child.name.upper()}_ENDPOINT"] = child.endpoint
                if child.events_endpoint:
                    env[f"{child.name.upper()}_EVENTS_ENDPOINT"] = child.events_endpoint
            group.start("gateway", "gateway", env)
        except StartError as exc:
            click.echo(f"ZeroShop did not start: {exc} (its log is above)", err=True)
            raise SystemExit(1) from None
        rows = [(c.name, c.endpoint, f"ready (pid {c.process.pid})")
                for c in group.children.values()]
        table(rows)
        click.echo(f"\nZeroShop is up: {group.children['gateway'].endpoint}   "
                   f"(try: curl {group.children['gateway'].endpoint}/api/products/1)")
        click.echo("Watch the services react: zeroshop events --follow")
        click.echo("Press Ctrl-C to stop every process.")
        reported: set[str] = set()
        while not stopping:  # supervise: report a child that dies, keep the rest running
            for child in group.children.values():
                if child.name not in reported and not child.running and not stopping:
                    reported.add(child.name)
                    click.echo(f"{child.name} exited with code {child.process.returncode}",
                               err=True)
            time.sleep(0.2)
    finally:
        click.echo("\nstopping ...", err=True)
        group.stop_all()
        click.echo("stopped.", err=True)


def _ping_all(names: list[str], endpoints: dict[str, str], timeout_ms: int) -> list[Any]:
    return gather(endpoints, [Call(n, "health", NoParams(), Health) for n in names], timeout_ms)


@main.command()
@click.argument("service", type=click.Choice(sorted(SERVICES)))
@click.option("--endpoint", help="Override the service's endpoint.")
@click.option("--timeout-ms", default=1000, show_default=True)
def ping(service: str, endpoint: str | None, timeout_ms: int) -> None:
    """Exit 0 if SERVICE answers its health call in time (for probes and scripts)."""
    target = endpoint or endpoint_for(service, os.environ)
    (outcome,) = _ping_all([service], {service: target}, timeout_ms)
    if not outcome.ok:
        click.echo(f"{service} at {target}: {outcome.error} {outcome.message}", err=True)
        raise SystemExit(1)
    click.echo(f"{service} at {target}: ok")


@main.command()
@click.option("--timeout-ms", default=1000, show_default=True)
def status(timeout_ms: int) -> None:
    """Show every service's endpoint and whether it answers, and the gateway's health."""
    names = list(SERVICES)
    endpoints = {n: endpoint_for(n, os.environ) for n in names}
    outcomes = _ping_all(names, endpoints, timeout_ms)
    rows = [(n, endpoints[n], "up" if o.ok else f"DOWN ({o.error})")
            for n, o in zip(names, outcomes, strict=True)]
    config = GatewayConfig.from_env()
    url = f"http://{config.host}:{config.port}"
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout_ms / 1000) as resp:
            rows.append(("gateway", url, "up, ready" if resp.status == 200 else "up"))
    except urllib.error.HTTPError:
        rows.append(("gateway", url, "up, not ready"))
    except OSError as exc:
        rows.append(("gateway", url, f"DOWN ({exc})"))
    table(rows)
    if not all(o.ok for o in outcomes):
        raise SystemExit(1)


@main.command()
@click.argument("service", type=click.Choice(sorted(SERVICES)))
@click.argument("method")
@click.argument("params", default="{}")
@click.option("--timeout-ms", default=2000, show_default=True)
def call(service: str, method: str, params: str, timeout_ms: int) -> None:
    """Call METHOD on SERVICE with PARAMS (JSON) and print the result as JSON."""
    try:
        decoded = json.loads(params)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"PARAMS must be JSON: {exc}", param_hint="PARAMS") from None
    endpoints = {service: endpoint_for(service, os.environ)}
    (outcome,) = gather(endpoints, [Call(service, method, decoded, Any)], timeout_ms)
    if not outcome.ok:
        click.echo(f"error: {outcome.error}: {outcome.message}", err=True)
        raise SystemExit(1)
    click.echo(msgspec.json.format(msgspec.json.encode(outcome.value), indent=2))
