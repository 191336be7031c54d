"""bench/locustfile.py (`make load`) run headless for a few seconds against a real platform:
the shoppers get their pages and their orders accepted, and nothing answers 5xx. Load, not
a benchmark: no speed is checked. Locust comes with the dev extra."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from ..support import Platform

# Run as its own process, never imported here: Locust monkey-patches a process for gevent.
LOCUSTFILE = Path(__file__).resolve().parents[2] / "bench" / "locustfile.py"


def test_shoppers_browse_and_order_without_server_errors(tmp_path: Path) -> None:
    platform = Platform(tmp_path / "data")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
             "--host", platform.url, "--users", "4", "--spawn-rate", "4", "--run-time", "3s",
             "--think-max", "0.2", "--only-summary", "--csv", str(tmp_path / "load")],
            capture_output=True, text=True, timeout=30)
    finally:
        platform.close()
    with (tmp_path / "load_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    with (tmp_path / "load_failures.csv").open() as failures:
        failed = list(csv.DictReader(failures))
    assert not failed, failed
    orders = rows["/api/orders"]
    assert int(orders["Request Count"]) > 0 and int(orders["Failure Count"]) == 0
    assert int(rows["/api/products/[id]"]["Request Count"]) > 0
    assert "orders accepted: " in done.stdout + done.stderr
    assert done.returncode == 0, done.stderr[-2000:]
