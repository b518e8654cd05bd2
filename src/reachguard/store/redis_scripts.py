"""The Redis half of the PostgreSQL + Redis store: three Lua scripts (ACQUIRE, FINISH, RELEASE)
and the lean RESP connection they run over.

ACQUIRE takes every lock a decision needs (all or none) and reads its contact windows;
FINISH checks the locks are still ours, appends the new contacts (hydrating cold windows),
trims and releases; RELEASE gives locks back after an error. `RedisCounters` wraps them.

The script texts are in redis_lua.py, the connection in redis_wire.py.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from typing import Any, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from reachguard.store.base import StoreUnavailable
from reachguard.store.redis_lua import _ACQUIRE, _FINISH, _RELEASE
from reachguard.store.redis_wire import _Incomplete, _NoScript, _pack, _parse, _Wire  # noqa: F401  (re-exported)

_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ResponseError,
                 OSError)


def split_redis_url(url: str) -> tuple[str, str | None]:
    """The URL for redis-py, and our `prefix` parameter taken out of its query string."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), None)
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), prefix

class RedisCounters:
    """The Redis half: locks and contact windows, through three Lua scripts."""

    def __init__(self, url: str, *, prefix: str | None = None, retention_days: float = 40.0,
                 lock_ttl: float = 10.0, lock_timeout: float = 10.0, socket_timeout: float = 2.0):
        url, url_prefix = split_redis_url(url)
        self.prefix = prefix if prefix is not None else (url_prefix if url_prefix is not None else "rg:")
        self.client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=socket_timeout, socket_connect_timeout=min(socket_timeout, 1.0),
            retry=Retry(NoBackoff(), 1), health_check_interval=0, protocol=2,
        )
        self._local = threading.local()
        self._scripts = {name: (hashlib.sha1(text.encode()).hexdigest(), text)
                         for name, text in (("acquire", _ACQUIRE), ("finish", _FINISH), ("release", _RELEASE))}
        self.retention = retention_days * 86400.0
        self.lock_ttl_ms = int(lock_ttl * 1000)
        self.key_ttl_ms = int(max(retention_days, 1.0) * 86400 * 1000)
        self.lock_timeout = lock_timeout

    def _eval(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        wire = self._wire()
        command = ["EVALSHA", self._scripts[name][0], len(keys), *keys, *args]
        try:
            return wire.call(command)
        except _NoScript:  # a restarted (or flushed) Redis: load every script and go on
            for _, script in self._scripts.values():
                wire.call(["SCRIPT", "LOAD", script])
            return wire.call(command)

    # key names: contacts per (org, number) and per (org, debt), and their locks
    def number_key(self, org: str, number: str) -> str:
        return f"{self.prefix}c:{org}|{number}"

    def subject_key(self, org: str, subject: str) -> str:
        return f"{self.prefix}s:{org}|{subject}"

    def lock_of(self, key: str) -> str:
        return key.replace(self.prefix, self.prefix + "lock:", 1)

    def _wire(self) -> _Wire:
        wire = getattr(self._local, "wire", None)
        if wire is None:
            wire = self._local.wire = _Wire(self.client.connection_pool)
        return wire

    def _acquire_command(self, token: str, locks: Sequence[str], reads: Sequence[tuple[str, float]]) -> list:
        keys = list(locks) + [key for key, _ in reads]
        return ["EVALSHA", self._scripts["acquire"][0], len(keys), *keys,
                token, self.lock_ttl_ms, len(locks), *(repr(since) for _, since in reads)]

    def acquire_send(self, token: str, locks: Sequence[str], reads: Sequence[tuple[str, float]]) -> tuple:
        """Send ACQUIRE without waiting for it (the caller reads PostgreSQL meanwhile); its
        answer comes from `acquire_receive`, which the caller must always call."""
        command = self._acquire_command(token, locks, reads)
        self._wire().send(command)
        return (token, locks, reads, command)

    def acquire_receive(self, sent: tuple) -> tuple[list[tuple[str, list[str]]], bool]:
        """ACQUIRE's answer: ([(horizon, members)], waited). waited: the locks were busy and
        were taken only after retrying (so what was read meanwhile may be stale)."""
        token, locks, reads, command = sent
        try:
            out = self._wire().receive(command)
        except _NoScript:
            return self.acquire(token, locks, reads), True
        except _REDIS_ERRORS as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        if out[0] == 1:
            return [(out[i], out[i + 1]) for i in range(1, len(out), 2)], False
        return self.acquire(token, locks, reads), True

    def acquire(self, token: str, locks: Sequence[str], reads: Sequence[tuple[str, float]]) -> list[tuple[str, list[str]]]:
        """Take `locks` (all or none, waiting) and read each (key, since): [(horizon, members)]."""
        keys = list(locks) + [key for key, _ in reads]
        args = [token, self.lock_ttl_ms, len(locks)] + [repr(since) for _, since in reads]
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.0002
        while True:
            try:
                out = self._eval("acquire", keys, args)
            except _REDIS_ERRORS as exc:
                raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
            if out[0] == 1:
                return [(out[i], out[i + 1]) for i in range(1, len(out), 2)]
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"timed out after {self.lock_timeout:.0f} s waiting for a recipient lock")
            time.sleep(min(delay, max(out[1], 1) / 1000.0) * (0.5 + random.random()))
            delay = min(delay * 2, 0.005)

    def finish(self, token: str, locks: Sequence[str], writes: dict[str, tuple[str, list[tuple[float, str]]]], unlock: bool) -> None:
        """Append (and hydrate) under `locks`, then release them (or keep them, unlock=False)."""
        keys = list(locks) + list(writes)
        args: list[Any] = [token, len(locks), "1" if unlock else "0", self.retention, self.key_ttl_ms, self.lock_ttl_ms]
        for horizon, members in writes.values():
            args += [horizon, len(members)]
            for score, text in members:
                args += [repr(score), text]
        try:
            ok = self._eval("finish", keys, args)
        except _REDIS_ERRORS as exc:
            raise StoreUnavailable(f"Redis is unavailable: {exc}") from exc
        if not ok:
            raise StoreUnavailable("a recipient lock expired before the decision was recorded (lease too short?)")

    def release(self, token: str, locks: Sequence[str]) -> None:
        if not locks:
            return
        try:
            self._eval("release", list(locks), [token])
        except _REDIS_ERRORS:
            pass  # the leases expire by themselves

    def release_send(self, token: str, locks: Sequence[str]) -> tuple | None:
        """Send RELEASE without waiting (the caller commits PostgreSQL meanwhile); the caller
        must then call `release_receive` with what this returned."""
        if not locks:
            return None
        command = ["EVALSHA", self._scripts["release"][0], len(locks), *locks, token]
        try:
            self._wire().send(command)
        except _REDIS_ERRORS:
            return None  # the leases expire by themselves
        return (token, locks, command)

    def release_receive(self, sent: tuple | None) -> None:
        if sent is None:
            return
        token, locks, command = sent
        try:
            try:
                self._wire().receive(command)
            except _NoScript:
                # The script cache is empty (a restarted or flushed Redis) yet the locks can be
                # live, taken by this very transaction: left to expire, they would stall the
                # next decision for these numbers a whole lease. Load the scripts and release.
                self.release(token, locks)
        except Exception:  # noqa: BLE001 - PostgreSQL has committed; a lease left behind expires
            pass

    def clear(self) -> int:
        """Delete every key under the prefix (tests, `reachguard db` maintenance)."""
        removed = 0
        batch: list[str] = []
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                removed += self.client.delete(*batch)
                batch = []
        if batch:
            removed += self.client.delete(*batch)
        return removed

    def close(self) -> None:
        wire = getattr(self._local, "wire", None)
        if wire is not None:
            wire.drop()
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


__all__ = ["RedisCounters", "split_redis_url"]
