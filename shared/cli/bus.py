"""Commands that watch and operate the event bus: events, dead-letters."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import click

from shared.config import GatewayConfig, endpoint_for
from shared.contracts import SERVICES
from shared.contracts.bus import DeadLetterList, ListDeadLetters, ReplayDeadLetter, ReplayResult
from shared.messaging import Call

from . import main
from .common import gather


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
    for name, outcome in zip(names, gather(endpoints, calls, 2000), strict=True):
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
    (outcome,) = gather(endpoints, [call], 10_000)
    if not outcome.ok:
        raise click.ClickException(f"{service}: {outcome.error}: {outcome.message}")
    if not outcome.value.replayed:
        raise click.ClickException(f"dead letter {dead_letter_id} failed again: "
                                   f"{outcome.value.error}")
    click.echo(f"dead letter {dead_letter_id} replayed")
