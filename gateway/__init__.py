"""The API gateway: a Flask application factory serving the storefront API over ZeroMQ RPC."""

from __future__ import annotations

from flask import Flask

from shared.config import GatewayConfig
from shared.messaging import Keyring

from . import (
    edge,
    events,
    health,
    metrics,
    openapi,
    orders,
    products,
    request_ids,
    spans,
    storefront,
)
from .clients import ServiceClients
from .errors import register_error_handlers


def create_app(config: GatewayConfig | None = None) -> Flask:
    config = config or GatewayConfig.from_env()
    app = Flask(__name__)
    app.config["ZEROSHOP"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    keys = Keyring.load(config.curve_keys, "gateway") if config.curve_keys else None
    ServiceClients(config.endpoints, metrics.observe_call, keys).init_app(app)
    register_error_handlers(app)
    edge.init_app(app, config)
    request_ids.init_app(app)
    metrics.init_app(app)
    spans.init_app(app)
    for module in (products, orders, events, health, openapi, storefront):
        app.register_blueprint(module.bp)
    return app
