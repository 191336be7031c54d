"""Reliable events over ZeroMQ: transactional outbox, relay, catch-up fetch, idempotent consumer.

Durability comes from the database; PUB/SUB is only the fast path (see docs/ARCHITECTURE.md).
"""

from .outbox import emit

__all__ = ["emit"]
