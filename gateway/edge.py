"""Guards at the HTTP edge, before any view runs: per-client rate limits and the body size.

Rate limits use the `limits` package's moving window (the last N seconds, not a calendar
window, so a burst at a window's edge cannot double it), kept in this process's memory:
each gateway replica counts its own clients. Every /api/ request counts against the API
limit, and POST /api/orders also against the orders limit; /healthz, /readyz and
/openapi.json are never limited (probes). A client over a limit gets 429 JSON with
Retry-After; everyone else goes on being served.

The client is the connection's address. Behind N proxies of our own
(`GATEWAY_TRUSTED_PROXIES=N`) it is the address the outermost of them saw: werkzeug's
ProxyFix takes the Nth X-Forwarded-For entry from the right, so a client cannot choose
its own key by sending the header. With N = 0 (the default) the header is ignored.
"""

from __future__ import annotations

import math
import time

from flask import Flask, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.config import GatewayConfig

from .errors import ApiError
from .metrics import RATE_LIMITED, route


class RateLimits:
    def __init__(self, api: str, orders: str) -> None:
        self.api: RateLimitItem = parse(api)
        self.orders: RateLimitItem = parse(orders)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, client: str, placing_order: bool) -> None:
        """Count one request of `client`; raises a 429 ApiError when it is over a limit."""
        items = [("api", self.api)] + ([("orders", self.orders)] if placing_order else [])
        for name, item in items:
            if not self._limiter.hit(item, name, client):
                reset = self._limiter.get_window_stats(item, name, client).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                what = "orders" if name == "orders" else "API requests"
                raise ApiError(429, "rate_limited",
                               f"more than {item.amount} {what} in {item.get_expiry()} s from "
                               f"{client}; retry in {wait} s", retry_after=wait)


def init_app(app: Flask, config: GatewayConfig) -> None:
    """Install the guards on `app` (the rate limits unless `ZEROSHOP_RATE_LIMIT=off`)."""
    if config.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies)  # type: ignore[method-assign]
    limits = RateLimits(config.api_rate_limit, config.orders_rate_limit) \
        if config.rate_limit else None
    max_body = config.max_body_bytes

    @app.before_request
    def _guard() -> None:
        # Refused on its Content-Length alone: the application never reads the body.
        if request.content_length is not None and request.content_length > max_body:
            raise ApiError(413, "payload_too_large",
                           f"the body is {request.content_length} bytes; at most {max_body}")
        if limits is not None and request.path.startswith("/api/"):
            try:
                limits.check(request.remote_addr or "unknown",
                             request.method == "POST" and request.path == "/api/orders")
            except ApiError:
                RATE_LIMITED.labels(route()).inc()
                raise
