"""Schemathesis against the live gateway's /openapi.json: every check, the stateful phase
included, a bounded number of examples per operation. Any 5xx, any answer outside the
documented schema and any undocumented status code fails the suite.

The seed is fixed so a run can be repeated; `ZEROSHOP_SCHEMATHESIS_SEED=random` explores
new inputs (and `ZEROSHOP_SCHEMATHESIS_EXAMPLES` more of them) by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..support import Platform

EXAMPLES = os.environ.get("ZEROSHOP_SCHEMATHESIS_EXAMPLES", "15")
SEED = os.environ.get("ZEROSHOP_SCHEMATHESIS_SEED", "20261203")


@pytest.mark.timeout(240)
def test_the_gateway_keeps_its_openapi_document(tmp_path: Path) -> None:
    # Rate limits off: the fuzzer floods on purpose (the limits have their own tests).
    shop = Platform(tmp_path / "data", ZEROSHOP_RATE_LIMIT="off")
    try:
        command = [str(Path(sys.executable).parent / "st"), "run", f"{shop.url}/openapi.json",
                   "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
                   "--max-examples", EXAMPLES, "--workers", "2", "--request-timeout", "10",
                   "--generation-database", "none", "--no-color", "--output-truncate", "false"]
        if SEED != "random":
            command += ["--seed", SEED]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              timeout=200)
    finally:
        shop.close()
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-2000:]
