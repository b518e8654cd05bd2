"""Who is calling: an API key resolved to a Principal, through a short cache. Apart from
service.py so the routes' Principal comes with the one thing that makes it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from reachguard.core.keys import hash_key
from reachguard.store import Store


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: from the API key, never from the body."""

    key_id: str
    org: str
    role: str


class KeyRing:
    """API key → Principal, with a short cache (a revocation takes effect within its TTL)."""

    def __init__(self, store: Store, ttl: float):
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    def cached(self, key: str) -> tuple[bool, Principal | None, str]:
        digest = hash_key(key)
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > time.monotonic():
            return True, hit[0], digest
        return False, None, digest

    def load(self, digest: str) -> Principal | None:
        record = self.store.api_key_by_hash(digest)
        principal = None
        if record is not None and record.revoked_at is None:
            principal = Principal(record.key_id, record.org, record.role)
        if self.ttl > 0:
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[digest] = (principal, time.monotonic() + self.ttl)
        return principal

    def invalidate(self) -> None:
        self._cache.clear()
