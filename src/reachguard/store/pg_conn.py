"""PostgreSQL connections of a thread: the session that holds one while the thread works, and
the connections parked between transactions (so a busy thread skips the pool's checkout).

Split from pg_session.py, which sends the statements and runs the transactions.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
from psycopg import pq

from reachguard.store.base import StoreUnavailable

if TYPE_CHECKING:
    from reachguard.store.pg_session import PgSessions


# --- sessions: a thread's transaction, a pooled connection while it works -------------------------


class _Session:
    """A thread's transaction state (depth, statements waiting to be sent, locks) and the pooled
    connection it holds while it works: checked out by the first statement, returned to the
    pool (LIFO, so a busy thread keeps getting the same warm connection and its prepared
    statements) as soon as the thread is outside any transaction. So a replica's connections
    track its concurrent transactions, not how many threads ever touched the store."""

    __slots__ = ("store", "fairy", "conn", "cur", "pid", "depth", "begun", "sent", "aborted", "outbox", "held", "wanted",
                 "extra", "pinned", "__weakref__")

    def __init__(self, store: "PgSessions"):
        self.store = store
        self.pid = os.getpid()
        self.fairy: Any = None
        self.conn: psycopg.Connection = None  # type: ignore[assignment]
        self.cur: psycopg.Cursor | None = None  # reused by single statements (a Cursor per execute costs)
        self.pinned = 0  # read(): the caller works on the connection itself
        self.depth = 0
        self.begun = False  # BEGIN queued or sent
        self.sent = False  # BEGIN sent to the server
        self.aborted = False  # an error ended the transaction: what follows in it must fail
        self.outbox: list[tuple] = []  # (sql, params, many): sent before the next statement
        self.held: set[tuple[int, int]] = set()  # (rank, key) advisory locks held
        self.wanted: set[tuple[int, int]] = set()  # to be taken before the next statement
        self.extra: Any = None  # backend-specific transaction state (Redis locks, buffers)

    def reset(self) -> None:
        self.begun = self.sent = self.aborted = False
        self.outbox = []
        self.held = set()
        self.wanted = set()
        self.extra = None

    def attach(self) -> psycopg.Connection:
        """The connection, checked out of the pool if this thread holds none."""
        if self.fairy is None:
            if self.sent or self.aborted:
                raise StoreUnavailable("the PostgreSQL connection was lost inside a transaction")
            fairy = self.store._idle.take()
            if fairy is None:
                try:
                    fairy = self.store.engine.raw_connection()
                except sa.exc.OperationalError as exc:
                    raise StoreUnavailable(f"cannot reach PostgreSQL: {exc.orig or exc}") from exc
                except sa.exc.TimeoutError as exc:
                    raise StoreUnavailable(f"no free PostgreSQL connection in the pool: {exc}") from exc
                fairy.driver_connection.autocommit = True
            self.fairy = fairy
            self.conn = fairy.driver_connection
            self.cur = None
        return self.conn

    def release(self) -> None:
        """Outside any transaction: give the connection back to the pool."""
        if self.fairy is None or self.depth or self.pinned or self.begun or self.outbox:
            return
        try:
            if self.conn.info.transaction_status != pq.TransactionStatus.IDLE:
                self.conn.execute("ROLLBACK")
        except psycopg.Error:
            self.discard()
            return
        fairy, self.fairy = self.fairy, None
        self.conn = None  # type: ignore[assignment]
        self.cur = None
        if self.pid != os.getpid() or not self.store._idle.park(fairy):
            self._close_fairy(fairy)

    def close(self) -> None:
        fairy, self.fairy = getattr(self, "fairy", None), None
        self.conn = None  # type: ignore[assignment]
        self.cur = None
        self._close_fairy(fairy)

    def _close_fairy(self, fairy: Any) -> None:
        if fairy is not None:
            try:
                if self.pid == os.getpid():
                    fairy.close()
                else:
                    fairy.detach()
            except Exception:  # noqa: BLE001 - a broken connection is dropped either way
                pass

    def discard(self) -> None:
        """Throw the connection away (broken): the next statement gets a new one."""
        fairy, self.fairy = self.fairy, None
        self.conn = None  # type: ignore[assignment]
        self.cur = None
        if fairy is not None:
            try:
                fairy.invalidate()
            except Exception:  # noqa: BLE001
                pass

    def __del__(self) -> None:
        self.close()


class _Idle:
    """Connections parked between transactions, per process, most recent first.

    Going through SQLAlchemy's pool on every transaction (checkout, checkin, their events)
    was about 7 % of a replica's CPU per group of decisions; a thread that decides
    transaction after transaction takes its connection back from here instead (the same
    warm connection, prepared statements and all). At most `limit` are parked; the others
    go back to the pool (which closes its overflow), and all of them at close()."""

    __slots__ = ("pid", "fairies", "limit", "closed")

    def __init__(self, limit: int):
        self.pid = os.getpid()
        self.fairies: list[Any] = []
        self.limit = limit
        self.closed = False

    def take(self) -> Any:
        if self.pid != os.getpid():  # a forked child: the parent's connections are not ours
            _FORKED_AWAY.extend(self.fairies)  # never closed here (that would end the parent's)
            self.fairies, self.pid = [], os.getpid()
            return None
        try:
            return self.fairies.pop()  # atomic under the GIL
        except IndexError:
            return None

    def park(self, fairy: Any) -> bool:
        """Keep `fairy` for the next transaction; False: the caller closes it."""
        if self.closed or self.pid != os.getpid() or len(self.fairies) >= self.limit:
            return False
        self.fairies.append(fairy)
        return True

    def close(self) -> None:
        self.closed = True
        fairies, self.fairies = self.fairies, []
        if self.pid != os.getpid():
            _FORKED_AWAY.extend(fairies)
            return
        for fairy in fairies:
            try:
                fairy.close()
            except Exception:  # noqa: BLE001
                pass


_FORKED_AWAY: list[Any] = []


class _Local(threading.local):
    session: _Session | None = None
