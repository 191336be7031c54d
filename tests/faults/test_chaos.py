"""The chaos soak as a user runs it, short: `zeroshop chaos --scratch` browses and buys for
about a minute while random processes are killed and frozen, with `zeroshop up` restarting
them, then checks every invariant. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ..conftest import POSTGRES_ADMIN_URL

RUN = [sys.executable, "-m", "shared.cli", "chaos", "--scratch", "--duration", "40",
       "--interval", "2.5", "--json"]


def soak(*extra: str) -> dict:
    done = subprocess.run([*RUN, *extra], capture_output=True, text=True, timeout=280)
    assert done.stdout, done.stderr[-3000:]
    report = json.loads(done.stdout)
    broken = [v for v in report["verdicts"] if not v["held"]]
    assert broken == [], f"{broken}\n(seed {report['seed']})\n{done.stderr[-3000:]}"
    assert done.returncode == 0
    return dict(report)


def assert_real_chaos(report: dict) -> None:
    assert report["kills"] + report["stops"] >= 5  # it did hurt the platform
    assert report["orders"] >= 50 and report["accepted"] == report["orders"]
    assert report["statuses"]["pages"].get("200", 0) > 100


@pytest.mark.timeout(300)
def test_a_soak_on_sqlite_holds_every_invariant() -> None:
    assert_real_chaos(soak())


@pytest.mark.timeout(300)
def test_a_soak_on_postgresql_holds_every_invariant(postgres_url: str) -> None:
    assert_real_chaos(soak("--postgres", POSTGRES_ADMIN_URL))


def test_bad_options_are_refused_before_anything_starts() -> None:
    done = subprocess.run([sys.executable, "-m", "shared.cli", "chaos", "--victims", "nobody"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "unknown process(es) nobody" in done.stderr
    done = subprocess.run([sys.executable, "-m", "shared.cli", "chaos", "--postgres", "x"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--scratch" in done.stderr


def test_without_a_running_platform_it_says_how_to_start_one(tmp_path: object) -> None:
    done = subprocess.run([sys.executable, "-m", "shared.cli", "chaos", "--duration", "5"],
                          capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "ZEROSHOP_DATA_DIR": str(tmp_path)})
    assert done.returncode == 1 and "make run" in done.stderr
