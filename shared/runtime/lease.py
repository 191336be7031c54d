"""The writer lease: which replica of a writer service (one that publishes or consumes
events) is the active one.

On PostgreSQL several replicas of a writer may run against its one database: the one that
holds a session-level advisory lock, on a connection kept open for that purpose alone, is
active (it runs the relay and the consumer and answers every method); the others are
standbys that answer only `health` and try for the lock every ACTIVE_POLL_S. When the
active replica dies, PostgreSQL ends its session and frees the lock, and a standby takes
it. Exactly-once does not rest on the lease (consumer offsets and the outbox are guarded
in the database, so even two active replicas would not apply an event twice); the lease
keeps the work in one place and tells callers where to go.

SQLite has no such lock, and its file is not shared between machines: there a service
runs one replica, always active.
"""

from __future__ import annotations

import logging
import zlib

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

ACTIVE_POLL_S = 0.5  # how often a standby tries for the lock, and the active checks it

log = logging.getLogger("zeroshop.runtime")


class WriterLease:
    def __init__(self, engine: Engine, service: str) -> None:
        self._engine = engine
        self._key = zlib.crc32(f"zeroshop:{service}:active".encode())
        self._conn: Connection | None = None
        self.exclusive = engine.dialect.name == "postgresql"  # False: always held

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this process holds it now."""
        if not self.exclusive:
            return True
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            held = bool(self._conn.execute(select(func.pg_try_advisory_lock(self._key)))
                        .scalar())
            self._conn.commit()
        except DBAPIError as exc:
            log.warning("cannot ask for the writer lease yet: %s", exc.orig)
            self._drop()
            return False
        return held

    def still_held(self) -> bool:
        """False once the lease's connection is gone: its lock went with it."""
        if not self.exclusive:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.execute(select(1))
            self._conn.commit()
        except DBAPIError:
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(select(func.pg_advisory_unlock(self._key)))
                self._conn.commit()
            except DBAPIError:
                pass  # the session is gone, and the lock with it
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.invalidate()  # closed for real: a pooled session would keep the lock
            self._conn.close()
            self._conn = None
