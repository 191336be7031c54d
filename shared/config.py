"""Typed configuration built from environment variables, passed in, never read at import.

Every service and the gateway take one of these objects; tests build them with the values
they need (`ServiceConfig.from_env("pricing", {"PRICING_BIND": "tcp://127.0.0.1:*"})`).
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url

# Default RPC ports, one per service (README lists them).
DEFAULT_PORTS: dict[str, int] = {
    "product": 5551,
    "inventory": 5552,
    "pricing": 5553,
    "discount": 5554,
    "recommendation": 5555,
    "orders": 5556,
    "email": 5557,
    "sms": 5558,
}
# PUB ports of the services that publish events.
EVENT_PORTS: dict[str, int] = {"inventory": 5652, "orders": 5656, "email": 5657, "sms": 5658}
PAGE_SERVICES = ("product", "inventory", "pricing", "discount", "recommendation")
ALL_SERVICES = tuple(DEFAULT_PORTS)


class ConfigError(ValueError):
    """An environment variable holds a value the platform cannot use."""


def int_setting(environ: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
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


# Ports free_port has handed out in this process: a platform's ports are picked together,
# before any of them is bound, so the same one must not come up twice.
_handed_out: set[int] = set()
_random = random.SystemRandom()  # not the global generator a test may seed, nor a fork's copy
_EPHEMERAL_LOW = 32768  # Linux's default; read from the kernel where it says


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return _EPHEMERAL_LOW


def free_port() -> int:
    """A loopback port free now, below the kernel's ephemeral range. One picked inside it
    (the kernel's port 0) can be taken as the local end of any outgoing connection, a
    reconnecting client's say, before its service binds it or while a restarted service
    is down: seen as "Address already in use" in the suite."""
    low = _ephemeral_low()
    for _ in range(200):
        port = _random.randint(max(1024, low - 12000), low - 1)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as sock:  # that range is full: whatever the kernel gives
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_env(environ: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """`environ` with a free loopback port for every socket of the platform, its data in
    `data_dir`: a second platform beside the first (tests, `zeroshop chaos --scratch`).

    Ports are picked up front (not "*"), because consumers must know where their
    publishers will be before those start, and a restarted process binds the same port.
    """
    env = {k: v for k, v in environ.items() if not k.endswith(("_BIND", "_ENDPOINT"))}
    for name in DEFAULT_PORTS:
        for suffix in ("", "_EVENTS") if name in EVENT_PORTS else ("",):
            address = f"tcp://127.0.0.1:{free_port()}"
            env[f"{name.upper()}{suffix}_BIND"] = address
            env[f"{name.upper()}{suffix}_ENDPOINT"] = address
    env.update(ZEROSHOP_DATA_DIR=str(data_dir), GATEWAY_PORT=str(free_port()))
    return env


def endpoint_for(service: str, environ: Mapping[str, str]) -> str:
    """Where clients connect to `service` (`<SERVICE>_ENDPOINT`)."""
    key = f"{service.upper()}_ENDPOINT"
    return environ.get(key) or f"tcp://127.0.0.1:{DEFAULT_PORTS[service]}"


def events_endpoint_for(service: str, environ: Mapping[str, str]) -> str:
    """Where subscribers connect to `service`'s events (`<SERVICE>_EVENTS_ENDPOINT`)."""
    key = f"{service.upper()}_EVENTS_ENDPOINT"
    return environ.get(key) or f"tcp://127.0.0.1:{EVENT_PORTS[service]}"


def curve_keys(environ: Mapping[str, str]) -> Path | None:
    """The CURVE key folder (`ZEROSHOP_CURVE_KEYS`), or None: plain ZeroMQ, loopback only."""
    folder = environ.get("ZEROSHOP_CURVE_KEYS")
    return Path(folder) if folder else None


def _flag(environ: Mapping[str, str], key: str) -> bool:
    return environ.get(key, "").lower() in ("1", "true", "yes")


def _database_url(name: str, env: Mapping[str, str]) -> tuple[str, bool]:
    """`<SERVICE>_DATABASE_URL` as given; else, with `ZEROSHOP_POSTGRES_URL` (a server), the
    database `zeroshop_<service>` on it (created on first start); else a SQLite file."""
    given = env.get(f"{name.upper()}_DATABASE_URL")
    if given:
        return given, False
    server = env.get("ZEROSHOP_POSTGRES_URL")
    if server:
        if not server.startswith("postgresql"):
            raise ConfigError(f"ZEROSHOP_POSTGRES_URL must be a postgresql:// URL, got "
                              f"{server!r}")
        database = env.get("ZEROSHOP_POSTGRES_DB_PREFIX", "zeroshop_") + name
        return str(make_url(server).set(database=database).render_as_string(False)), True
    return f"sqlite:///{data_dir(env) / (name + '.db')}", False


@dataclass(frozen=True)
class ServiceConfig:
    """What one RPC service needs to run."""

    name: str
    bind: str
    database_url: str
    seed: bool = True
    log_level: str = "INFO"
    events_bind: str = ""
    endpoints: Mapping[str, str] = field(default_factory=dict)  # RPC, of every service
    events_endpoints: Mapping[str, str] = field(default_factory=dict)  # PUB, of publishers
    max_attempts: int = 3  # handler failures before an event becomes a dead letter
    heartbeat_ms: int = 1000
    retry_base_ms: int = 500  # a failed event is retried after 0.5 s, 1 s, 2 s ... (max 30 s)
    events_poll_ms: int = 0  # 0: PUB/SUB plus fetch on gaps; > 0: fetch only, this often
    create_database: bool = False  # a PostgreSQL database of its own, made on first start
    crash_after_commit: bool = False  # fault injection for tests; never set in production
    crash_before_commit: bool = False  # the same: a consumer dies inside its transaction
    reply_cache: int = 4096  # query replies kept in memory until a write (0: off)
    metrics_port: int = 0  # the side HTTP port of /metrics (0: not served)
    metrics_host: str = "127.0.0.1"  # where that port listens (0.0.0.0 in containers)
    settings: Mapping[str, str] = field(default_factory=dict)  # the service's own variables
    data_dir: Path = Path("var")
    curve_keys: Path | None = None  # CURVE on every socket, keys from this folder

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        prefix = name.upper()
        bind = env.get(f"{prefix}_BIND") or f"tcp://127.0.0.1:{DEFAULT_PORTS[name]}"
        url, create = _database_url(name, env)
        events_bind = env.get(f"{prefix}_EVENTS_BIND") or (
            f"tcp://127.0.0.1:{EVENT_PORTS[name]}" if name in EVENT_PORTS else "")
        return cls(
            name=name,
            bind=bind,
            database_url=url,
            create_database=create,
            seed=env.get("ZEROSHOP_SEED", "1") != "0",
            log_level=env.get("ZEROSHOP_LOG_LEVEL", "INFO"),
            events_bind=events_bind,
            endpoints={n: endpoint_for(n, env) for n in DEFAULT_PORTS},
            events_endpoints={n: events_endpoint_for(n, env) for n in EVENT_PORTS},
            max_attempts=int_setting(env, "ZEROSHOP_MAX_ATTEMPTS", 3, 1, 100),
            heartbeat_ms=int_setting(env, "ZEROSHOP_HEARTBEAT_MS", 1000, 10, 60_000),
            retry_base_ms=int_setting(env, "ZEROSHOP_RETRY_BASE_MS", 500, 1, 60_000),
            events_poll_ms=int_setting(env, "ZEROSHOP_EVENTS_POLL_MS", 0, 0, 60_000),
            crash_after_commit=_flag(env, "ZEROSHOP_FAULT_CRASH_AFTER_COMMIT"),
            crash_before_commit=_flag(env, "ZEROSHOP_FAULT_CRASH_BEFORE_COMMIT"),
            reply_cache=int_setting(env, "ZEROSHOP_REPLY_CACHE", 4096, 0, 1_000_000),
            metrics_port=int_setting(env, f"{prefix}_METRICS_PORT", 0, 0, 65535),
            metrics_host=env.get("ZEROSHOP_METRICS_HOST") or "127.0.0.1",
            settings={k: v for k, v in env.items() if k.startswith(prefix + "_")},
            data_dir=data_dir(env),
            curve_keys=curve_keys(env),
        )


@dataclass(frozen=True)
class GatewayConfig:
    """What the HTTP gateway needs: where the services are and how long a page may take."""

    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8
    page_deadline_ms: int = 300
    order_deadline_ms: int = 3000
    endpoints: Mapping[str, str] = field(default_factory=dict)
    events_endpoints: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = 64 * 1024
    # The HTTP edge (gateway/server.py): streams need no thread each, so many may be open.
    max_event_streams: int = 1000
    max_connections: int = 8192  # open connections in all; more are refused at once
    max_connections_per_client: int = 100  # per client address (0: no cap; see behind a proxy)
    request_timeout_s: int = 10  # a request's head and body must arrive within this
    idle_timeout_s: int = 15  # a keep-alive connection with no request in flight is closed
    log_level: str = "INFO"
    # Per client, in the `limits` package's notation (gateway/edge.py); off for benchmarks.
    rate_limit: bool = True
    api_rate_limit: str = "300/3 seconds"  # a burst of 300, about 100 a second after it
    orders_rate_limit: str = "20/4 seconds"  # a burst of 20, about 5 a second after it
    trusted_proxies: int = 0  # proxies of ours in front: X-Forwarded-For hops to trust
    curve_keys: Path | None = None  # CURVE to the services, with the key named "gateway"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayConfig:
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("GATEWAY_HOST", "127.0.0.1"),
            port=int_setting(env, "GATEWAY_PORT", 8080, 0, 65535),
            threads=int_setting(env, "GATEWAY_THREADS", 8, 1, 256),
            page_deadline_ms=int_setting(env, "PAGE_DEADLINE_MS", 300, 10, 60_000),
            order_deadline_ms=int_setting(env, "ORDER_DEADLINE_MS", 3000, 100, 60_000),
            endpoints={name: endpoint_for(name, env) for name in DEFAULT_PORTS},
            events_endpoints={name: events_endpoint_for(name, env) for name in EVENT_PORTS},
            max_event_streams=int_setting(env, "GATEWAY_MAX_EVENT_STREAMS", 1000, 1, 100_000),
            max_connections=int_setting(env, "GATEWAY_MAX_CONNECTIONS", 8192, 16, 1_000_000),
            max_connections_per_client=int_setting(
                env, "GATEWAY_MAX_CONNECTIONS_PER_CLIENT", 100, 0, 1_000_000),
            request_timeout_s=int_setting(env, "GATEWAY_REQUEST_TIMEOUT_S", 10, 1, 3600),
            idle_timeout_s=int_setting(env, "GATEWAY_IDLE_TIMEOUT_S", 15, 1, 3600),
            log_level=env.get("ZEROSHOP_LOG_LEVEL", "INFO"),
            max_body_bytes=int_setting(env, "GATEWAY_MAX_BODY_BYTES", 64 * 1024, 1024, 1 << 24),
            rate_limit=_rate_limit_on(env),
            api_rate_limit=_rate(env, "GATEWAY_RATE_LIMIT_API", "300/3 seconds"),
            orders_rate_limit=_rate(env, "GATEWAY_RATE_LIMIT_ORDERS", "20/4 seconds"),
            trusted_proxies=int_setting(env, "GATEWAY_TRUSTED_PROXIES", 0, 0, 10),
            curve_keys=curve_keys(env),
        )


def _rate_limit_on(env: Mapping[str, str]) -> bool:
    value = env.get("ZEROSHOP_RATE_LIMIT", "on").lower()
    if value not in ("on", "off"):
        raise ConfigError(f"ZEROSHOP_RATE_LIMIT must be on or off, got {value!r}")
    return value == "on"


def _rate(env: Mapping[str, str], key: str, default: str) -> str:
    """A rate such as `20/4 seconds` or `100 per second` (the `limits` package's notation)."""
    from limits import parse  # here: only the gateway needs it, and it is a tenth of a
    # service's start-up imports (docs/PERFORMANCE.md, cold start)
    value = env.get(key) or default
    try:
        parse(value)
    except ValueError:
        raise ConfigError(f"{key} must be a rate such as '20/4 seconds', got {value!r}"
                          ) from None
    return value
