"""The gateway's Flask app under waitress, as it was served before uvicorn (8 threads,
waitress's defaults otherwise): the baseline of bench/s1_page/servers.py, never deployed.

    python -m bench.waitress_gateway     # GATEWAY_PORT etc. as for `python -m gateway`
"""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType

from waitress.server import create_server

from gateway import create_app
from shared.config import GatewayConfig


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    config = GatewayConfig.from_env()
    app = create_app(config)
    server = create_server(app, host=config.host, port=config.port, threads=config.threads)
    url = f"http://{config.host}:{server.effective_port}"  # type: ignore[union-attr]
    print(json.dumps({"event": "ready", "service": "gateway", "endpoint": url}), flush=True)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.extensions["zeroshop.clients"].close()


if __name__ == "__main__":
    sys.exit(main())
