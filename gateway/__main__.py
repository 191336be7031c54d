"""Serve the gateway with uvicorn (gateway/server.py): `python -m gateway`."""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket

from shared import logs, otel
from shared.config import GatewayConfig

from . import create_app
from .server import build_server


def _listen(config: GatewayConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        logging.error("cannot listen on %s:%s: %s (GATEWAY_PORT sets the port)",
                      config.host, config.port, exc)
        raise SystemExit(1) from None
    return sock


def _enough_files(config: GatewayConfig) -> None:
    """Raise the open-files limit so that max_connections can be reached (one descriptor
    each, plus the ZeroMQ sockets); say so when the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = config.max_connections + 1024
    if hard != resource.RLIM_INFINITY and hard < wanted:
        logging.warning("the open-files limit is %s: fewer than GATEWAY_MAX_CONNECTIONS=%s "
                        "connections can be open at once", hard, config.max_connections)
        wanted = hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main() -> None:
    config = GatewayConfig.from_env()
    logs.configure("gateway", config.log_level, os.environ)
    otel.setup("gateway", os.environ)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    _enough_files(config)
    app = create_app(config)
    server = build_server(app, config, _listen(config))
    # uvicorn handles SIGINT and SIGTERM while it serves (finish requests, end streams) and
    # raises the signal again when done: ignored here, so a stop is a clean exit 0.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server.run(sockets=[server.listener])
    finally:
        server.edge.close()
        app.extensions["zeroshop.clients"].close()
        otel.shutdown()


if __name__ == "__main__":
    main()
