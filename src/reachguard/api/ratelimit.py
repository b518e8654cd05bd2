"""How often a client may call: the fixed-window limiter of the verify endpoint and the API.
Apart from service.py: it needs nothing of the store or the engine."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("reachguard.service")  # the service's logger: its lines keep that name


class RateLimiter:
    """Fixed-window counter per client: in memory, or in Redis when a URL is configured."""

    def __init__(self, name: str, limit: int, window: float, redis_url: str | None = None):
        self.name = name
        self.limit = limit
        self.window = window
        self._counts: dict[str, tuple[int, int]] = {}
        self._redis = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def hit(self, client: str) -> float | None:
        """None if allowed; else seconds until the window resets."""
        if self.limit <= 0:
            return None
        now = time.time()
        index = int(now // self.window)
        retry = (index + 1) * self.window - now
        if self._redis is not None:
            try:
                key = f"reachguard:rl:{self.name}:{client}:{index}"
                count = await self._redis.incr(key)
                if count == 1:
                    await self._redis.expire(key, int(self.window) + 1)
                return None if count <= self.limit else retry
            except Exception as exc:  # Redis down: limit locally rather than not at all
                log.warning("redis rate limit unavailable, limiting in memory", extra={"error": str(exc)})
        window, count = self._counts.get(client, (index, 0))
        if window != index:
            count = 0
        count += 1
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if v[0] == index}
        self._counts[client] = (index, count)
        return None if count <= self.limit else retry
