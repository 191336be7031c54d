"""S0's baseline server: Zero (PyPI `zeroapi`) serving pricing's own get_price handler over
the same SQLite file, set up as Zero's README shows (a module-level handler, `run()` with its
default workers, one per CPU). Started by bench/s0_rpc as `python -m bench.s0_rpc.zero_server`.

Settings come from the environment: S0_ZERO_PORT, S0_ZERO_DATABASE_URL and S0_ZERO_FOLDER
(Zero's broker puts its ipc socket file in the working directory, so we work there).
"""

import json
import logging
import os

from sqlalchemy.orm import Session, sessionmaker
from zero import ZeroServer

from services.pricing.service import get_price as pricing_get_price
from shared.contracts.pricing import GetPrice, Price
from shared.db import make_engine, unit_of_work

_sessions: dict[int, sessionmaker[Session]] = {}  # by pid: Zero forks its workers after import


def _sessions_here() -> sessionmaker[Session]:
    """A session factory of this process's own (an engine must not cross a fork)."""
    pid = os.getpid()
    if pid not in _sessions:
        _sessions[pid] = sessionmaker(make_engine(os.environ["S0_ZERO_DATABASE_URL"]),
                                      expire_on_commit=False)
    return _sessions[pid]


def get_price(msg: GetPrice) -> Price:
    """pricing.get_price in one read-only unit of work, as ZeroShop's runtime runs it."""
    with unit_of_work(_sessions_here(), read_only=True) as db:
        return pricing_get_price(msg, db)


def main() -> None:
    port = int(os.environ["S0_ZERO_PORT"])
    os.chdir(os.environ["S0_ZERO_FOLDER"])
    app = ZeroServer(host="127.0.0.1", port=port)
    app.register_rpc(get_price)
    logging.getLogger().setLevel(logging.WARNING)  # Zero logs each start-up step at INFO
    # The supervisor's ready line; the benchmark then waits for a real answer.
    print(json.dumps({"event": "ready", "service": "zero", "endpoint": f"127.0.0.1:{port}"}),
          flush=True)
    app.run()


if __name__ == "__main__":
    main()
