"""CurveZMQ on every socket when a key folder is given (`ZEROSHOP_CURVE_KEYS`).

The folder holds one pyzmq certificate pair per process name (`NAME.key` public,
`NAME.key_secret` secret), as `zeroshop keys generate` writes them. A process loads its own
secret and every public key in the folder. Its server sockets (RPC ROUTER, event PUB) are
CURVE servers with the process's own key, and a ZAP authenticator (pyzmq's
ThreadAuthenticator) admits only the public keys in the folder, passing the key's name on
as each message's User-Id (the contracts' per-method allow-list checks it). Its client
sockets (DEALER, SUB) use its own keypair and the server's public key, by service name.

A CURVE server without a running ZAP handler admits any client that knows its public key,
so `secure_server` refuses to set up a server socket when the authenticator is not running.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from zmq.auth import load_certificate
from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger("zeroshop.curve")
ZAP_DOMAIN = "zeroshop"
REFUSAL_LOG_EVERY_S = 60.0  # a refused peer is logged once a minute, however often it tries
REFUSALS_REMEMBERED = 10_000  # peers remembered for that; beyond it, the oldest are forgotten


class CurveError(RuntimeError):
    """Keys missing or unreadable, or a CURVE server without its authenticator."""


@dataclass(frozen=True)
class Keyring:
    """This process's keypair and the public key of every name in the folder (z85 bytes)."""

    folder: Path
    name: str
    public: bytes
    secret: bytes
    publics: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path, name: str) -> Keyring:
        if not folder.is_dir():
            raise CurveError(f"ZEROSHOP_CURVE_KEYS={folder} is not a folder (make one with "
                             f"`zeroshop keys generate {folder}`)")
        secret_file = folder / f"{name}.key_secret"
        try:
            public, secret = load_certificate(secret_file)
        except (OSError, ValueError) as exc:
            raise CurveError(f"{name} has no readable secret key {secret_file}: {exc}") from None
        if secret is None:
            raise CurveError(f"{secret_file} holds no secret-key")
        try:
            publics = _publics(folder)
        except (OSError, ValueError) as exc:
            raise CurveError(f"a public key in {folder} cannot be read: {exc}") from None
        return cls(folder, name, public, secret, publics)

    def server_key(self, server: str) -> bytes:
        """The public key a client needs to connect to `server`."""
        key = self.publics.get(server)
        if key is None:
            raise CurveError(f"no public key {server}.key in {self.folder}: cannot connect "
                             f"to {server} with CURVE")
        return key


def _publics(folder: Path) -> dict[str, bytes]:
    return {path.stem: load_certificate(path)[0] for path in sorted(folder.glob("*.key"))}


class Authenticator(ThreadAuthenticator):
    """pyzmq's ZAP thread, admitting the folder's public keys; a key's User-Id is its name;
    a refusal is logged once per peer and minute (a flood of attempts is not a log flood)."""

    def __init__(self, context: zmq.Context[Any], keys: Keyring) -> None:
        super().__init__(context, log=logging.getLogger("zeroshop.zap"))
        self._names = {public: name for name, public in keys.publics.items()}
        self._folder = keys.folder
        self._peer = ""
        self._logged: dict[tuple[str, bytes], float] = {}

    def start(self) -> None:
        self.configure_curve(domain=ZAP_DOMAIN, location=str(self._folder))
        super().start()

    def reload(self) -> None:
        """Read the folder again (a service does on SIGHUP): a removed key is refused from
        its next connection on, an added one admitted. An unreadable folder keeps the old."""
        try:
            publics = _publics(self._folder)
        except (OSError, ValueError) as exc:
            log.error("kept the CURVE keys loaded before: %s cannot be read: %s",
                      self._folder, exc)
            return
        self._names = {public: name for name, public in publics.items()}
        self.configure_curve(domain=ZAP_DOMAIN, location=str(self._folder))
        log.info("reloaded %d CURVE public keys from %s", len(publics), self._folder)

    def curve_user_id(self, client_public_key: bytes) -> str:
        z85 = zmq.utils.z85.encode(client_public_key)
        return self._names.get(z85, z85.decode())

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        self._peer = msg[3].decode(errors="replace") if len(msg) > 3 else "?"
        await super().handle_zap_message(msg)

    async def _authenticate_curve(self, domain: str, client_key: bytes) -> tuple[bool, bytes]:
        allowed, reason = await super()._authenticate_curve(domain, client_key)
        if not allowed:
            self._refused(client_key, reason)
        return allowed, reason

    def _refused(self, client_key: bytes, reason: bytes) -> None:
        peer = (self._peer, client_key)
        now = time.monotonic()
        if now - self._logged.get(peer, -REFUSAL_LOG_EVERY_S) < REFUSAL_LOG_EVERY_S:
            return
        if len(self._logged) >= REFUSALS_REMEMBERED:
            self._logged.pop(next(iter(self._logged)))
        self._logged[peer] = now
        log.warning("refused a CURVE client from %s with key %s: %s (logged once a minute "
                    "per peer)", self._peer, zmq.utils.z85.encode(client_key).decode(),
                    reason.decode(errors="replace"))


def start_authenticator(ctx: Any) -> Authenticator:
    """Start the ZAP handler of `ctx` (a context carrying `keys`); servers need it running."""
    authenticator = Authenticator(ctx, ctx.keys)
    authenticator.start()
    ctx.authenticator = authenticator
    return authenticator


def secure_server(sock: zmq.Socket[bytes], ctx: Any) -> None:
    """Make `sock` a CURVE server if `ctx` carries keys; before it binds."""
    keys: Keyring | None = getattr(ctx, "keys", None)
    if keys is None:
        return
    authenticator = getattr(ctx, "authenticator", None)
    if authenticator is None or not authenticator.is_alive():
        raise CurveError("CURVE is on but no ZAP authenticator is running: refusing to serve, "
                         "since a CURVE server without one admits any client")
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)


def secure_client(sock: zmq.Socket[bytes], ctx: Any, server: str | None) -> None:
    """Give `sock` our keypair and `server`'s public key if `ctx` carries keys; before it
    connects."""
    keys: Keyring | None = getattr(ctx, "keys", None)
    if keys is None:
        return
    if server is None:
        raise CurveError("CURVE is on: a client socket needs the name of its server")
    sock.setsockopt(zmq.CURVE_SERVERKEY, keys.server_key(server))
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)


def caller_of(frame: zmq.Frame, ctx: Any) -> str | None:
    """The key name that sent `frame` (its ZAP User-Id); None when CURVE is off."""
    if getattr(ctx, "keys", None) is None:
        return None
    return str(frame.get("User-Id") or "")
