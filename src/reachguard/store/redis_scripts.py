"""The Redis half of the PostgreSQL + Redis store: three Lua scripts (ACQUIRE, FINISH, RELEASE)
and the lean RESP connection they run over.

ACQUIRE takes every lock a decision needs (all or none) and reads its contact windows;
FINISH checks the locks are still ours, appends the new contacts (hydrating cold windows),
trims and releases; RELEASE gives locks back after an error. `RedisCounters` wraps them.
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

_ACQUIRE = """
local token, ttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= token then return {0, redis.call('PTTL', KEYS[i])} end
end
for i = 1, n do redis.call('SET', KEYS[i], token, 'PX', ttl) end
local out = {1}
for j = n + 1, #KEYS do
  local first = redis.call('ZRANGE', KEYS[j], 0, 0)
  local h = ''
  if first[1] and string.sub(first[1], 1, 2) == 'h:' then h = string.sub(first[1], 3) end
  out[#out + 1] = h
  out[#out + 1] = redis.call('ZRANGEBYSCORE', KEYS[j], ARGV[3 + j - n], '+inf')
end
return out
"""

_FINISH = """
local token, n, unlock = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local retention, keyttl, lockttl = tonumber(ARGV[4]), ARGV[5], ARGV[6]
for i = 1, n do
  if redis.call('GET', KEYS[i]) ~= token then return 0 end
end
local pos = 7
for j = n + 1, #KEYS do
  local key, newh, k = KEYS[j], ARGV[pos], tonumber(ARGV[pos + 1])
  pos = pos + 2
  local top = nil
  local i = 0
  while i < k do
    local last = math.min(k, i + 400)
    local args = {}
    for x = i, last - 1 do
      local score = ARGV[pos + 2 * x]
      args[#args + 1] = score
      args[#args + 1] = ARGV[pos + 2 * x + 1]
      local v = tonumber(score)
      if top == nil or v > top then top = v end
    end
    redis.call('ZADD', key, unpack(args))
    i = last
  end
  pos = pos + 2 * k
  local first = redis.call('ZRANGE', key, 0, 0)
  local old, h, hs = nil, nil, nil
  if first[1] and string.sub(first[1], 1, 2) == 'h:' then
    old = first[1]; hs = string.sub(old, 3); h = tonumber(hs)
  end
  if newh ~= '' and (h == nil or tonumber(newh) < h) then h = tonumber(newh); hs = newh end
  if top ~= nil and retention > 0 then
    local cut = top - retention
    redis.call('ZREMRANGEBYSCORE', key, '(-inf', '(' .. string.format('%.17g', cut))
    if h ~= nil and cut > h then h = cut; hs = string.format('%.17g', cut) end
  end
  if hs ~= nil and old ~= 'h:' .. hs then
    if old then redis.call('ZREM', key, old) end
    redis.call('ZADD', key, '-inf', 'h:' .. hs)
  end
  if k > 0 or newh ~= '' then redis.call('PEXPIRE', key, keyttl) end
end
for i = 1, n do
  if unlock then redis.call('DEL', KEYS[i]) else redis.call('PEXPIRE', KEYS[i], lockttl) end
end
return 1
"""

_RELEASE = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
"""

_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ResponseError,
                 OSError)


class _NoScript(redis.exceptions.ResponseError):
    """NOSCRIPT: the script cache is empty (a restarted or flushed Redis). A ResponseError, so
    that where a retry meets it again it is reported as Redis being unavailable, like the rest."""


class _Wire:
    """A thread's own connection for the three scripts: RESP2 written and read directly.

    redis-py sets the connection up (AUTH, SELECT, TLS, timeouts); after that, EVALSHA goes
    over its socket without the client's per-command machinery (pool checkout, encoders,
    observability hooks), which cost several times the round trip itself. Every script is
    idempotent for the same arguments (same token, same members), so a call that failed on
    a stale connection is retried once on a fresh one.
    """

    __slots__ = ("pool", "conn", "sock", "buf")

    def __init__(self, pool: redis.ConnectionPool):
        self.pool = pool
        self.conn = None
        self.sock = None
        self.buf = bytearray()

    def _connect(self) -> None:
        conn = self.pool.connection_class(**self.pool.connection_kwargs)
        conn.connect()
        self.conn, self.sock, self.buf = conn, conn._sock, bytearray()

    def drop(self) -> None:
        conn, self.conn, self.sock = self.conn, None, None
        if conn is not None:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001
                pass

    def call(self, args: list) -> Any:
        for attempt in (0, 1):
            fresh = self.sock is None
            try:
                if fresh:
                    self._connect()
                self.sock.sendall(_pack(args))
                return self._read()
            except (OSError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, EOFError) as exc:
                self.drop()
                if fresh or attempt:
                    raise redis.exceptions.ConnectionError(str(exc) or type(exc).__name__) from exc
            except (_NoScript, redis.exceptions.ResponseError):
                raise  # raised once the whole reply was consumed: the connection is in step
            except BaseException:
                self.drop()  # a reply that failed to decode, or an interrupt: out of step
                raise

    def send(self, args: list) -> None:
        """The first half of `call`: the command is on its way, its reply is read by `receive`
        (meanwhile the thread can wait for PostgreSQL). Only for idempotent commands."""
        try:
            if self.sock is None:
                self._connect()
            self.sock.sendall(_pack(args))
        except (OSError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            self.drop()  # `receive` sends it again on a fresh connection
        except BaseException:
            self.drop()
            raise

    def receive(self, args: list) -> Any:
        """The reply to what `send(args)` sent; a broken connection: `call(args)` again."""
        if self.sock is None:
            return self.call(args)
        try:
            return self._read()
        except (OSError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, EOFError):
            self.drop()
            return self.call(args)
        except (_NoScript, redis.exceptions.ResponseError):
            raise
        except BaseException:
            self.drop()  # interrupted mid-reply: the connection is out of step
            raise

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("Redis closed the connection")
        self.buf += chunk

    def _read(self) -> Any:
        """One reply, parsed once it is all in the buffer (a reply that is not yet complete is
        parsed again after the next recv; replies here are a few KB, nearly always one recv)."""
        while True:
            errors: list[str] = []
            try:
                value, end = _parse(self.buf, 0, errors)
            except _Incomplete:
                self._fill()
                continue
            del self.buf[:end]
            if errors:
                message = errors[0]
                if message.startswith("NOSCRIPT"):
                    raise _NoScript(message)
                raise redis.exceptions.ResponseError(message)
            return value


class _Incomplete(Exception):
    pass


def _parse(buf: bytearray, pos: int, errors: list[str]) -> tuple[Any, int]:
    """A RESP2 value at `pos`: (value, position after it); an error reply is noted in
    `errors` (its value None) so the whole reply is consumed before it is raised."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    if kind == 36:  # $ bulk string
        size = int(buf[pos + 1:end])
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buf) < stop + 2:
            raise _Incomplete
        return buf[end + 2:stop].decode("utf-8"), stop + 2
    if kind == 42:  # * array
        count = int(buf[pos + 1:end])
        pos = end + 2
        if count < 0:
            return None, pos
        out = []
        for _ in range(count):
            value, pos = _parse(buf, pos, errors)
            out.append(value)
        return out, pos
    if kind == 58:  # : integer
        return int(buf[pos + 1:end]), end + 2
    if kind == 43:  # + simple string
        return buf[pos + 1:end].decode(), end + 2
    if kind == 45:  # - error
        errors.append(buf[pos + 1:end].decode("utf-8", "replace"))
        return None, end + 2
    raise redis.exceptions.ConnectionError(f"unexpected reply from Redis: {bytes(buf[pos:pos + 40])!r}")


def _pack(args: list) -> bytes:
    """A RESP2 command. Nearly always ASCII (keys, numbers, members of ASCII fields): then the
    lengths of the str are the byte lengths, and one str is built and encoded once (a third
    of the cost of encoding and framing argument by argument)."""
    strs = [a if type(a) is str else (a.decode("utf-8") if type(a) is bytes else str(a)) for a in args]
    if "".join(strs).isascii():
        return (f"*{len(strs)}\r\n" + "".join([f"${len(a)}\r\n{a}\r\n" for a in strs])).encode()
    datas = [a.encode("utf-8") for a in strs]
    return b"*%d\r\n" % len(datas) + b"".join([b"$%d\r\n%s\r\n" % (len(d), d) for d in datas])


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
