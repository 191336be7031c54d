"""S3's ZeroShop arm: the orders service (a real process) commits each order with its
`order.placed` outbox row, its relay publishes it on PUB, and three consumer processes
(bench/s3_events/sink.py, `shared.events.Consumer`) each commit it to their own SQLite file.
Only orders runs of the platform, so nothing else reacts and the sequence numbers are the
orders' alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support import Platform

from .durable import SINKS, start_sink, stop_sinks
from .flow import HEARTBEAT_MS, OrderPlacer


class ZeroShopArm:
    name = "ZeroShop"

    def __init__(self, data_dir: Path, report: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.databases = {name: data_dir / f"{name}.db" for name in SINKS}
        self.reporters = [f"zeroshop/{name}" for name in SINKS]
        self._sinks: list[subprocess.Popen[bytes]] = []
        self.platform = Platform(data_dir / "platform", ["orders"], gateway=False,
                                 ZEROSHOP_HEARTBEAT_MS=HEARTBEAT_MS)
        self._placer = OrderPlacer(self.platform.env["ORDERS_ENDPOINT"])
        try:
            env = self.platform.env
            endpoints = ("--rpc", env["ORDERS_ENDPOINT"], "--events",
                         env["ORDERS_EVENTS_ENDPOINT"])
            self._sinks = [start_sink("zeroshop", f"zeroshop/{name}", path, report, *endpoints)
                           for name, path in self.databases.items()]
        except BaseException:
            self.close()
            raise

    @property
    def sent(self) -> int:
        return self._placer.placed

    def send(self) -> int:
        return self._placer.place()

    def pids(self) -> dict[str, int]:
        return {"orders (outbox + relay)": self.platform.pid("orders"),
                **{name: p.pid for name, p in zip(SINKS, self._sinks, strict=True)}}

    def close(self) -> None:
        stop_sinks(self._sinks)
        self._placer.close()
        self.platform.close()
