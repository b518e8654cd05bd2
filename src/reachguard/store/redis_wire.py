"""The lean RESP2 connection the scripts run over (redis_scripts.py): apart from the scripts'
logic because it is a protocol codec (framing, parsing, reconnecting), not lock or window logic."""

from __future__ import annotations

from typing import Any

import redis


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
