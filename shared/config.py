"""Typed configuration built from environment variables, passed in, never read at import.

Every service and the gateway take one of these objects; tests build them with the values
they need (`ServiceConfig.from_env("pricing", {"PRICING_BIND": "tcp://127.0.0.1:*"})`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Default RPC ports, one per service (README lists them).
DEFAULT_PORTS: dict[str, int] = {
    "product": 5551,
    "inventory": 5552,
    "pricing": 5553,
    "discount": 5554,
    "recommendation": 5555,
    "orders": 5556,
}
PAGE_SERVICES = ("product", "inventory", "pricing", "discount", "recommendation")


class ConfigError(ValueError):
    """An environment variable holds a value the platform cannot use."""


def _int(environ: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = environ.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{key} must be between {low} and {high}, got {value}")
    return value


def data_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("ZEROSHOP_DATA_DIR", "var"))


def endpoint_for(service: str, environ: Mapping[str, str]) -> str:
    """Where clients connect to `service` (`<SERVICE>_ENDPOINT`)."""
    key = f"{service.upper()}_ENDPOINT"
    return environ.get(key) or f"tcp://127.0.0.1:{DEFAULT_PORTS[service]}"


@dataclass(frozen=True)
class ServiceConfig:
    """What one RPC service needs to run."""

    name: str
    bind: str
    database_url: str
    seed: bool = True
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        prefix = name.upper()
        bind = env.get(f"{prefix}_BIND") or f"tcp://127.0.0.1:{DEFAULT_PORTS[name]}"
        url = env.get(f"{prefix}_DATABASE_URL") or f"sqlite:///{data_dir(env) / (name + '.db')}"
        return cls(
            name=name,
            bind=bind,
            database_url=url,
            seed=env.get("ZEROSHOP_SEED", "1") != "0",
            log_level=env.get("ZEROSHOP_LOG_LEVEL", "INFO"),
        )


@dataclass(frozen=True)
class GatewayConfig:
    """What the HTTP gateway needs: where the services are and how long a page may take."""

    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8
    page_deadline_ms: int = 300
    endpoints: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = 64 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayConfig:
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("GATEWAY_HOST", "127.0.0.1"),
            port=_int(env, "GATEWAY_PORT", 8080, 0, 65535),
            threads=_int(env, "GATEWAY_THREADS", 8, 1, 256),
            page_deadline_ms=_int(env, "PAGE_DEADLINE_MS", 300, 10, 60_000),
            endpoints={name: endpoint_for(name, env) for name in DEFAULT_PORTS},
        )
