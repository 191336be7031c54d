"""The reply cache: encoded results of query methods, answered from memory until the service
next commits a write. Coherent because a service is the only writer of its own tables: every
commit it makes (an RPC that writes, an event it applies) drops the whole cache. A service
whose data never changes at run time (product, pricing, discount) keeps its entries until
they are evicted, on every replica.

The serve thread reads and fills it; any thread may call `changed()` after a commit. An
answer computed while a commit happened is not kept, so nothing stale survives a write.
"""

from __future__ import annotations

import msgspec
from cachetools import LRUCache

Key = tuple[str, bytes]  # (method, the request's params exactly as sent)


class ReplyCache:
    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: LRUCache[Key, msgspec.Raw] = LRUCache(max(1, size))
        self._version = 0  # bumped by every commit of a write
        self._seen = 0  # the version the entries belong to

    @property
    def version(self) -> int:
        return self._version

    def changed(self) -> None:
        """A write was committed: what is cached may be stale."""
        self._version += 1

    def get(self, key: Key) -> msgspec.Raw | None:
        if self.size == 0:
            return None
        version = self._version
        if self._seen != version:
            self._entries.clear()
            self._seen = version
        return self._entries.get(key)

    def put(self, key: Key, result: msgspec.Raw, version: int) -> None:
        """Keep `result`, computed when the cache was at `version`, unless a write came since."""
        if self.size and version == self._version == self._seen:
            self._entries[key] = result
