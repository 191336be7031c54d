"""The gateway's RPC clients: one RpcClient per worker thread, never shared between threads.

The replicas' circuit breakers are shared: a replica one thread saw time out is skipped by
every thread until it answers a probe.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app

from shared.messaging import Keyring, Observer, ReplicaHealth, RpcClient, new_context


class ServiceClients:
    """Flask extension: `clients.get()` returns this thread's client (created on first use)."""

    def __init__(self, endpoints: Mapping[str, str], observe: Observer | None = None,
                 keys: Keyring | None = None) -> None:
        self._endpoints = dict(endpoints)
        self._observe = observe  # told of every call's outcome and latency (metrics)
        self.keys = keys  # CURVE: the gateway's keypair and the services' public keys
        self._local = threading.local()
        self._ctx: Any = None
        self._lock = threading.Lock()
        self._all: list[RpcClient] = []
        self.health = ReplicaHealth()

    def init_app(self, app: Flask) -> None:
        app.extensions["zeroshop.clients"] = self

    def get(self) -> RpcClient:
        client = getattr(self._local, "client", None)
        if client is None:
            with self._lock:  # the context is made lazily, after any fork
                if self._ctx is None:
                    self._ctx = new_context(self.keys)
                client = RpcClient(self._ctx, self._endpoints, self.health,
                                   observe=self._observe)
                self._all.append(client)
            self._local.client = client
        return client

    def close(self) -> None:
        """Close every thread's sockets and the context (at shutdown, workers idle)."""
        with self._lock:
            for client in self._all:
                client.close()
            self._all.clear()
            if self._ctx is not None:
                self._ctx.term()
                self._ctx = None


def rpc() -> RpcClient:
    clients: ServiceClients = current_app.extensions["zeroshop.clients"]
    return clients.get()
