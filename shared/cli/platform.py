"""Commands that run and check the platform: up, status, ping, call."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
import msgspec

from shared import running
from shared.config import (
    ALL_SERVICES,
    DEFAULT_PORTS,
    GatewayConfig,
    curve_keys,
    data_dir,
    endpoint_for,
)
from shared.contracts import SERVICES, Health, NoParams
from shared.messaging import Call
from shared.restarts import (
    CRASH_LOOP,
    READY,
    STARTING,
    Restarter,
    RestartPolicy,
    Watched,
)
from shared.supervisor import Child, ProcessGroup, StartError

from . import main
from .common import gather, table
from .probe import probe


@main.command()
@click.option("--services", default=",".join(ALL_SERVICES), show_default=True,
              help="Comma-separated services to start.")
def up(services: str) -> None:
    """Start every service and the gateway as local processes, restart any that dies;
    Ctrl-C stops them all."""
    names = [s for s in services.split(",") if s]
    unknown = [s for s in names if s not in DEFAULT_PORTS]
    if unknown:
        raise click.BadParameter(f"unknown service(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(DEFAULT_PORTS)}", param_hint="--services")
    # Forked from one warm interpreter, the common imports are paid once, not nine times;
    # ZEROSHOP_FORK=0 starts each process as a new interpreter instead.
    group = ProcessGroup(fork=os.environ.get("ZEROSHOP_FORK", "1") != "0")
    stopping: list[int] = []
    # Set both explicitly: a shell may start us with SIGINT ignored (`make run &`).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    env = dict(os.environ)
    folder = data_dir(env)
    # Every process also logs JSON lines there: `zeroshop trace ID` reads them.
    env.setdefault("ZEROSHOP_LOG_DIR", str(folder / "logs"))

    def changed(watched: Watched, message: str) -> None:  # a death, a restart, a crash loop
        click.echo(message, err=True)
        _save(restarter, folder)
        if watched.state == CRASH_LOOP:  # the start-up table again: what runs, what gave up
            now = time.monotonic()
            table([(w.name, w.endpoint, w.describe(now)) for w in restarter.watched.values()])
    restarter = Restarter(group, RestartPolicy(), changed)
    try:
        click.echo(f"starting {', '.join(names)} and the gateway ...", err=True)
        try:
            started = group.start_all([(n, f"services.{n}") for n in names], env)
            for child in started:
                # The gateway connects where each service really bound (a bind may say "*").
                env[f"{child.name.upper()}_ENDPOINT"] = child.endpoint
                if child.events_endpoint:
                    env[f"{child.name.upper()}_EVENTS_ENDPOINT"] = child.events_endpoint
            started.append(group.start("gateway", "gateway", env))
        except StartError as exc:
            click.echo(f"ZeroShop did not start: {exc} (its log is above)", err=True)
            raise SystemExit(1) from None
        again = _restart_env(env, started)
        for child in started:
            restarter.watch(child, "gateway" if child.name == "gateway" else
                            f"services.{child.name}", again)
        _save(restarter, folder)
        table([(c.name, c.endpoint, f"ready (pid {c.process.pid})") for c in started])
        click.echo(_security_line(env))
        click.echo(f"\nZeroShop is up: {group.children['gateway'].endpoint}   "
                   f"(try: curl {group.children['gateway'].endpoint}/api/products/1)")
        click.echo(f"The storefront: open {group.children['gateway'].endpoint}/ in a browser")
        click.echo("Watch the services react: ./zeroshop events --follow   "
                   "(all commands: ./zeroshop --help)")
        click.echo("A process that dies is restarted; Ctrl-C stops every process.")
        while not stopping:
            restarter.tick()
            time.sleep(0.2)
    finally:
        click.echo("\nstopping ...", err=True)
        group.stop_all()
        running.remove(folder)
        click.echo("stopped.", err=True)


def _security_line(env: dict[str, str]) -> str:
    folder = curve_keys(env)
    if folder is None:
        return ("security: plain ZeroMQ, no CURVE (ZEROSHOP_CURVE_KEYS unset): fine on loopback, "
                "never across machines (docs/SECURITY.md)")
    return f"security: CURVE on every socket, only the keys in {folder} admitted"


def _restart_env(env: dict[str, str], started: list[Child]) -> dict[str, str]:
    """What a restarted process gets: everyone's endpoints, and its own port pinned where
    its first start picked one (a bind on port "*" or 0), so its peers find it again."""
    again = dict(env)
    for child in started:
        if child.name == "gateway":
            again["GATEWAY_PORT"] = child.endpoint.rsplit(":", 1)[1]
            continue
        for suffix, bound in (("_BIND", child.endpoint), ("_EVENTS_BIND", child.events_endpoint)):
            key = child.name.upper() + suffix
            if bound and env.get(key, "").rsplit(":", 1)[-1] in ("*", "0"):
                again[key] = bound
    return again


def _save(restarter: Restarter, folder: Path) -> None:
    now = time.monotonic()
    running.write(folder, running.RunningPlatform(os.getpid(), {
        name: running.Process(pid=w.child.process.pid, endpoint=w.endpoint,
                              events_endpoint=w.events_endpoint, state=w.state,
                              detail=w.describe(now), restarts=w.restarts, last_exit=w.last_exit,
                              ready_since=time.time() - (now - w.ready_at) if w.ready_at else 0.0)
        for name, w in restarter.watched.items()}))


def _ping_all(names: list[str], endpoints: dict[str, str], timeout_ms: int) -> list[Any]:
    return gather(endpoints, [Call(n, "health", NoParams(), Health) for n in names], timeout_ms)


@main.command()
@click.argument("service", type=click.Choice(sorted(SERVICES)))
@click.option("--endpoint", help="Override the service's endpoint.")
@click.option("--timeout-ms", default=1000, show_default=True)
@click.option("--active", is_flag=True,
              help="Exit 1 also if it is a writer's standby replica (a readiness probe for "
                   "the write path: only the active replica should get calls).")
def ping(service: str, endpoint: str | None, timeout_ms: int, active: bool) -> None:
    """Exit 0 if SERVICE answers its health call in time (for probes and scripts)."""
    target = endpoint or endpoint_for(service, os.environ)
    (outcome,) = _ping_all([service], {service: target}, timeout_ms)
    if not outcome.ok:
        click.echo(f"{service} at {target}: {outcome.error} {outcome.message}", err=True)
        raise SystemExit(1)
    state = outcome.value.status
    if active and state == "standby":
        click.echo(f"{service} at {target}: standby (another replica is active)", err=True)
        raise SystemExit(1)
    click.echo(f"{service} at {target}: {state}")


@main.command()
@click.option("--timeout-ms", default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per process.")
def status(timeout_ms: int, as_json: bool) -> None:
    """Show every service's endpoint, whether it answers, its RPC round trip, consumer lag
    and dead letters, and the gateway's health; under `zeroshop up`, also each process's
    pid, restarts and supervisor state. Exits 1 if a service does not answer."""
    supervised = running.read(data_dir(os.environ))
    names = list(SERVICES)
    endpoints = {n: endpoint_for(n, os.environ) for n in names}
    config = GatewayConfig.from_env()
    url = f"http://{config.host}:{config.port}"
    if supervised is not None:  # it knows where each process really listens
        endpoints.update({n: e for n, e in supervised.endpoints().items() if n in endpoints})
        url = supervised.gateway_url or url
    probes = probe(endpoints, timeout_ms)
    rows = [{"service": p.service, "endpoint": p.endpoint,
             "state": "up" if p.up else f"DOWN ({p.error})", "rpc_ms": p.rpc_ms,
             "consumer_lag": p.lag, "dead_letters": p.dead_letters} for p in probes]
    rows.append({"service": "gateway", "endpoint": url,
                 "state": _gateway_state(url, timeout_ms), "rpc_ms": None,
                 "consumer_lag": None, "dead_letters": None})
    if supervised is not None:
        for row in rows:
            process = supervised.processes.get(str(row["service"]))
            alive = process is not None and process.state in (STARTING, READY)
            row.update(pid=process.pid if process and alive else None,
                       restarts=process.restarts if process else None,
                       supervisor=process.detail if process else "not started by zeroshop up")
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    else:
        headers = ["SERVICE", "ENDPOINT", "STATE", "RPC", "LAG", "DEAD"]
        if supervised is not None:
            headers += ["PID", "RESTARTS", "SUPERVISOR"]
        table([[_cell(row, key) for key in _COLUMNS[:len(headers)]] for row in rows], headers)
    if not all(p.up for p in probes):
        raise SystemExit(1)


_COLUMNS = ("service", "endpoint", "state", "rpc_ms", "consumer_lag", "dead_letters", "pid",
            "restarts", "supervisor")


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if key == "rpc_ms":
        return f"{value:.1f}ms"
    if key == "consumer_lag":
        return str(sum(value.values()))
    return str(value)


def _gateway_state(url: str, timeout_ms: int) -> str:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout_ms / 1000) as resp:
            return "up, ready" if resp.status == 200 else "up"
    except urllib.error.HTTPError:
        return "up, not ready"
    except OSError as exc:
        return f"DOWN ({exc})"


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
