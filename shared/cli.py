"""The `zeroshop` command: run the platform, check it, call a service by hand."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import click
import msgspec

from .config import ALL_SERVICES, DEFAULT_PORTS, GatewayConfig, endpoint_for
from .contracts import SERVICES, Health, NoParams
from .contracts.bus import DeadLetterList, ListDeadLetters, ReplayDeadLetter, ReplayResult
from .messaging import Call, RpcClient, new_context
from .supervisor import ProcessGroup, StartError


@click.group()
def main() -> None:
    """ZeroShop: an e-commerce platform on ZeroMQ, Flask and SQLAlchemy."""


def _table(rows: list[tuple[str, str, str]]) -> None:
    click.echo(f"{'SERVICE':<16}{'ENDPOINT':<28}STATE")
    for name, endpoint, state in rows:
        click.echo(f"{name:<16}{endpoint:<28}{state}")


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
    signal.signal(signal.SIGTERM, lambda signum, _f: stopping.append(signum))
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
        _table(rows)
        click.echo(f"\nZeroShop is up: {group.children['gateway'].endpoint}   "
                   f"(try: curl {group.children['gateway'].endpoint}/api/products/1)")
        click.echo("Watch the services react: zeroshop events --follow")
        click.echo("Press Ctrl-C to stop every process.")
        reported: set[str] = set()
        while not stopping:  # supervise: report a child that dies, keep the rest running
            for child in group.children.values():
                if child.name not in reported and not child.running:
                    reported.add(child.name)
                    click.echo(f"{child.name} exited with code {child.process.returncode}",
                               err=True)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("\nstopping ...", err=True)
        group.stop_all()
        click.echo("stopped.", err=True)


def _gather(endpoints: dict[str, str], calls: list[Call[Any]], timeout_ms: int) -> list[Any]:
    ctx = new_context()
    client = RpcClient(ctx, endpoints)
    try:
        return client.gather(calls, timeout_ms)
    finally:
        client.close()
        ctx.term()


def _ping_all(names: list[str], endpoints: dict[str, str], timeout_ms: int) -> list[Any]:
    return _gather(endpoints, [Call(n, "health", NoParams(), Health) for n in names], timeout_ms)


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
    _table(rows)
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
    (outcome,) = _gather(endpoints, [Call(service, method, decoded, Any)], timeout_ms)
    if not outcome.ok:
        click.echo(f"error: {outcome.error}: {outcome.message}", err=True)
        raise SystemExit(1)
    click.echo(msgspec.json.format(msgspec.json.encode(outcome.value), indent=2))


def _gateway_url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    config = GatewayConfig.from_env()
    return f"http://{config.host}:{config.port}"


@main.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they happen.")
@click.option("--history", default=10, show_default=True,
              help="How many recent events per publisher to show first.")
@click.option("--url", help="The gateway's URL (default from GATEWAY_HOST/GATEWAY_PORT).")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
def events(follow: bool, history: int, url: str | None, as_json: bool) -> None:
    """Print the events on the bus (from the gateway's /api/events stream)."""
    target = f"{_gateway_url(url)}/api/events?history={history}&follow={str(follow).lower()}"
    try:
        response = urllib.request.urlopen(target, timeout=None if follow else 30)
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{target}: {exc.code} {exc.read().decode()}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the gateway at {target}: {exc} "
                                   "(is `make run` running?)") from None
    try:
        with response:
            for raw in response:
                line = raw.decode().rstrip("\n")
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if as_json:
                    click.echo(json.dumps(event))
                else:
                    at = event["occurred_at"][11:23]
                    click.echo(f"{at}  {event['publisher'] + '#' + str(event['seq']):<14}"
                               f"{event['topic']:<19}{event['summary']}")
    except KeyboardInterrupt:
        pass


@main.group("dead-letters")
def dead_letters() -> None:
    """List and replay events whose handler kept failing."""


CONSUMERS = sorted(name for name, c in SERVICES.items() if c.consumes)


@dead_letters.command("list")
@click.argument("services", nargs=-1, type=click.Choice(CONSUMERS))
@click.option("--all", "include_replayed", is_flag=True, help="Include replayed ones.")
def dead_letters_list(services: tuple[str, ...], include_replayed: bool) -> None:
    """Dead letters of SERVICES (default: every consumer)."""
    names = list(services or CONSUMERS)
    endpoints = {n: endpoint_for(n, os.environ) for n in names}
    calls = [Call(n, "dead_letters", ListDeadLetters(include_replayed=include_replayed),
                  DeadLetterList) for n in names]
    click.echo(f"{'SERVICE':<16}{'ID':<6}{'EVENT':<16}{'TOPIC':<19}{'TRIES':<7}ERROR")
    failed = False
    for name, outcome in zip(names, _gather(endpoints, calls, 2000), strict=True):
        if not outcome.ok:
            click.echo(f"{name:<16}-     unreachable ({outcome.error})", err=True)
            failed = True
            continue
        for d in outcome.value.items:
            state = " (replayed)" if d.replayed_at else ""
            click.echo(f"{name:<16}{d.id:<6}{d.publisher + '#' + str(d.seq):<16}{d.topic:<19}"
                       f"{d.attempts:<7}{d.error}{state}")
    if failed:
        raise SystemExit(1)


@dead_letters.command("replay")
@click.argument("service", type=click.Choice(CONSUMERS))
@click.argument("dead_letter_id", type=click.IntRange(min=1))
def dead_letters_replay(service: str, dead_letter_id: int) -> None:
    """Run dead letter DEAD_LETTER_ID's handler in SERVICE again."""
    endpoints = {service: endpoint_for(service, os.environ)}
    call = Call(service, "replay_dead_letter", ReplayDeadLetter(id=dead_letter_id), ReplayResult)
    (outcome,) = _gather(endpoints, [call], 10_000)
    if not outcome.ok:
        raise click.ClickException(f"{service}: {outcome.error}: {outcome.message}")
    if not outcome.value.replayed:
        raise click.ClickException(f"dead letter {dead_letter_id} failed again: "
                                   f"{outcome.value.error}")
    click.echo(f"dead letter {dead_letter_id} replayed")


if __name__ == "__main__":
    sys.exit(main())
