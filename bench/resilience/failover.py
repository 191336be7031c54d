"""What a writer failover costs: two orders replicas on one PostgreSQL database (one active,
one standby) behind the real gateway, two clients placing orders (a 503 retried with the same
Idempotency-Key), and the active replica killed with SIGKILL again and again. Per kill: how
long until the standby answered as active, until the next order was accepted, and how many
answers were 503 meanwhile; at the end, every invariant of the chaos soak. Writes the
`failover` section of docs/BENCHMARKS.md.

    .venv/bin/python -m bench.resilience.failover --kills 10
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

from shared.chaos.invariants import Inspector, check
from shared.chaos.load import Shoppers
from shared.chaos.scratch import postgres_databases
from shared.config import ALL_SERVICES, free_port, loopback_env
from shared.contracts import Health, NoParams
from shared.messaging import Call, Context, RpcClient, RpcError, new_context
from shared.supervisor import ProcessGroup

from ..common import REPORT, fmt_ms, machine_facts, progress, table, write_section

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.resilience.failover", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10, help="active replicas to kill")
    parser.add_argument("--between", type=float, default=4.0,
                        help="seconds of ordering between kills")
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server to use")
    parser.add_argument("--report", type=Path, default=REPORT)
    return parser.parse_args(argv)


class Replica:
    def __init__(self, name: str) -> None:
        self.name = name
        self.rpc = f"tcp://127.0.0.1:{free_port()}"
        self.events = f"tcp://127.0.0.1:{free_port()}"


def _status(ctx: Context, replica: Replica) -> str | None:
    client = RpcClient(ctx, {"orders": replica.rpc})
    try:
        return client.call(Call("orders", "health", NoParams(), Health), 500).status
    except RpcError:
        return None
    finally:
        client.close()


def run(args: argparse.Namespace) -> str:
    facts = machine_facts()
    rows: list[list[str]] = []
    takeovers: list[float] = []
    first_orders: list[float] = []
    refused: list[int] = []
    with tempfile.TemporaryDirectory(prefix="zeroshop-failover-") as data, \
            postgres_databases(args.postgres, "failover") as databases:
        replicas = [Replica("orders-a"), Replica("orders-b")]
        env = {**loopback_env(os.environ, Path(data)), **databases,
               "ZEROSHOP_RATE_LIMIT": "off", "ZEROSHOP_LOG_LEVEL": "WARNING",
               "ORDERS_ENDPOINT": ",".join(r.rpc for r in replicas),
               "ORDERS_EVENTS_ENDPOINT": ",".join(r.events for r in replicas),
               "GATEWAY_PORT": str(free_port())}
        group = ProcessGroup()
        ctx = new_context()
        try:
            progress("starting the platform with two orders replicas on PostgreSQL")
            group.start_all([(n, f"services.{n}") for n in ALL_SERVICES if n != "orders"], env)

            def start(replica: Replica) -> None:
                group.start(replica.name, "services.orders",
                            {**env, "ORDERS_BIND": replica.rpc,
                             "ORDERS_EVENTS_BIND": replica.events})
            for replica in replicas:
                start(replica)
            url = group.start("gateway", "gateway", env).endpoint
            inspector = Inspector({n: env[f"{n.upper()}_ENDPOINT"] for n in ALL_SERVICES})
            before = inspector.snapshot()
            shoppers = Shoppers(url, browsers=0, buyers=2, seed=5, run_id="failover")
            shoppers.start()
            for kill in range(1, args.kills + 1):
                time.sleep(args.between)  # ordering goes on meanwhile
                active = next(r for r in replicas if _status(ctx, r) == "ok")
                standby = next(r for r in replicas if r is not active)
                tally = shoppers.tally
                with tally.lock:
                    accepted_before, refused_before = len(tally.accepted), tally.orders[503]
                killed_at = time.monotonic()
                group.stop(active.name, signal.SIGKILL)
                while _status(ctx, standby) != "ok":
                    time.sleep(0.01)
                took_over = time.monotonic() - killed_at
                while len(tally.accepted) <= accepted_before:
                    time.sleep(0.01)
                first_order = time.monotonic() - killed_at
                time.sleep(1.0)  # the requests retried around the kill come back
                with tally.lock:
                    refusals = tally.orders[503] - refused_before
                takeovers.append(took_over)
                first_orders.append(first_order)
                refused.append(refusals)
                rows.append([str(kill), active.name, fmt_ms(took_over * 1000),
                             fmt_ms(first_order * 1000), str(refusals)])
                progress(f"kill {kill}: {standby.name} active after {took_over * 1000:.0f} ms, "
                         f"next order after {first_order * 1000:.0f} ms, {refusals} x 503")
                start(active)  # back, as the standby
            shoppers.stop(grace_s=20)
            progress("waiting for every order to settle, then checking the invariants")
            orders = inspector.settle(before, within_s=120)
            verdicts = [v for v in check(inspector, before, orders, shoppers.tally, None)
                        if v.invariant != "every process is back"]  # no zeroshop up here
            inspector.close()
        finally:
            ctx.term()
            group.stop_all()
    held = all(v.held for v in verdicts)
    lines = [f"| {v.invariant} | {'held' if v.held else 'BROKEN'} | {v.detail} |"
             for v in verdicts]
    return "\n\n".join([
        "## Writer failover: the active orders replica killed (bench/resilience/failover.py)",
        f"`.venv/bin/python -m bench.resilience.failover --kills {args.kills} --between "
        f"{args.between:g}`",
        "Two orders replicas on one PostgreSQL database behind the real gateway (the rest of "
        "the platform one replica each), two clients placing orders and retrying a 503 with "
        "the same Idempotency-Key; every "
        f"{args.between:g} s the active replica is killed (SIGKILL) and started again as the "
        "standby. Took over: SIGKILL until the other replica answered `health` as active "
        "(it polls for the lease every 0.5 s). Next order: until an order placed after the "
        "kill was accepted. 503s: order answers refused while it happened.",
        table(["kill", "killed", "took over ms", "next order ms", "503s"], rows),
        f"Median takeover {fmt_ms(statistics.median(takeovers) * 1000)} ms (max "
        f"{fmt_ms(max(takeovers) * 1000)}); median time to the next accepted order "
        f"{fmt_ms(statistics.median(first_orders) * 1000)} ms; {sum(refused)} answers were "
        f"503 over {len(refused)} kills. Afterwards, "
        + ("every invariant held:" if held else "**an invariant broke**:"),
        "| invariant | result | detail |\n|---|---|---|\n" + "\n".join(lines),
        table(["machine", ""], [list(f) for f in facts]),
    ])


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    text = run(args)
    write_section(args.report, "failover", text)
    progress(f"wrote the failover section of {args.report}")


if __name__ == "__main__":
    main()
