"""Serve the gateway with waitress (a production WSGI server): `python -m gateway`."""

from __future__ import annotations

import json
import logging
import signal
import sys

from waitress.server import create_server

from shared.config import GatewayConfig

from . import create_app


def _interrupt(_signum: int, _frame: object) -> None:
    # Once: Ctrl-C reaches us twice (from the terminal and from `zeroshop up`'s SIGTERM), and
    # a second KeyboardInterrupt inside the clean-up would end it with a traceback.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main() -> None:
    config = GatewayConfig.from_env()
    logging.basicConfig(level="INFO", stream=sys.stderr,
                        format="%(asctime)s gateway %(levelname)s %(message)s")
    app = create_app(config)
    try:
        # X-Forwarded-For reaches the app, which trusts it only when told to (gateway/edge.py).
        server = create_server(app, host=config.host, port=config.port, threads=config.threads,
                               clear_untrusted_proxy_headers=False)
    except OSError as exc:
        logging.error("cannot listen on %s:%s: %s (GATEWAY_PORT sets the port)",
                      config.host, config.port, exc)
        raise SystemExit(1) from None
    url = f"http://{config.host}:{server.effective_port}"  # type: ignore[union-attr]
    print(json.dumps({"event": "ready", "service": "gateway", "endpoint": url}), flush=True)
    # Both explicitly (a shell may start us with SIGINT ignored): close sockets, exit 0.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.extensions["zeroshop.clients"].close()


if __name__ == "__main__":
    main()
