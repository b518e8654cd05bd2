"""PostgreSQL sessions: a thread's transaction on a pooled connection, statements sent in as
few round trips as possible (psycopg pipeline mode), advisory-lock keys.

A transaction queues BEGIN, its advisory locks and its writes, and sends them together with
its next read (or its COMMIT), so a decision costs two round trips: lock + state read, then
writes + COMMIT. Outside a transaction a statement runs on its own (autocommit) and the
connection goes back to the pool at once.
"""

from __future__ import annotations

import hashlib
import os
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import psycopg
from psycopg import pq

from reachguard.store.base import StoreUnavailable
from reachguard.store.pg_conn import _Idle, _Local, _Session  # noqa: F401  (_Local: re-exported)
from reachguard.store.pg_params import int_array

if TYPE_CHECKING:
    import weakref

    from sqlalchemy.engine import Engine

# --- lock keys ----------------------------------------------------------------------------------

_RANK = {"n": 0, "s": 1, "l": 2, "t": 3}


def lock_key(kind: str, *parts: str) -> int:
    """A signed 64-bit advisory-lock key for ("n", org, number), ("s", org, subject), ("l", org)."""
    digest = hashlib.blake2b("\x1f".join((kind, *parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_sql(count: int) -> str:
    if count == 1:
        return "SELECT pg_advisory_xact_lock(%s::bigint)"
    # A function scan yields the array in order: the locks are taken in the order given.
    return "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS t(k)"


def _merge_inserts(stmts: list[tuple]) -> tuple | None:
    """Several single-row INSERTs (no ON CONFLICT), each into a different table, as one statement
    of data-modifying CTEs, or None when they cannot be merged. Plain inserts neither read nor
    touch each other's rows, so running them in one statement (one snapshot) changes nothing
    but the cost — except order: PostgreSQL runs the CTEs in no set order (in practice last
    first), so two inserts into one table took their identity values (a consent's seq, a
    ledger entry's id) in reverse, and a withdrawal sent after a consent came out before it.
    One insert per table keeps every table's order; a transaction that inserts into one table
    twice is sent statement by statement, in order."""
    if not stmts or len(stmts) > 16:
        return None
    if len(stmts) == 1:
        sql, params, many = stmts[0]
        return stmts[0] if many is None and sql.startswith("INSERT ") else None
    sqls = tuple(stmt[0] for stmt in stmts)
    merged = _MERGED.get(sqls)
    if merged is None:
        parts, tables = [], set()
        for index, (sql, params, many) in enumerate(stmts):
            if many is not None or not sql.startswith("INSERT ") or " ON CONFLICT " in sql or "%(" in sql:
                return None
            table = _INSERT_TABLE.match(sql)
            if table is None or table.group(1) in tables:
                return None
            tables.add(table.group(1))
            parts.append(f"w{index} AS ({sql})")
        merged = "WITH " + ", ".join(parts) + " SELECT 1"
        if len(_MERGED) > 256:
            _MERGED.clear()
        _MERGED[sqls] = merged
    elif any(many is not None for _, _, many in stmts):
        return None
    values: list = []
    for _, params, _ in stmts:
        values.extend(params)
    return (merged, tuple(values), None)


_INSERT_TABLE = re.compile(r"INSERT INTO\s+([^\s(]+)")


# The merged statement of each combination of inserts, built once: the same str object each
# time, so its encoding (below) and psycopg's caches find it without rehashing its text.
_MERGED: dict[tuple[str, ...], str] = {}
_ENCODED: dict[str, bytes] = {}


class Unprepared(str):
    """A statement planned afresh at every execution instead of prepared once.

    A prepared statement keeps its plan until an ANALYZE replans it. A plan made on a table
    ANALYZEd while empty (a new deployment's ledger) scans it whole, and keeps doing so however
    big it grows where autovacuum is off. For statements that run rarely (a few per chaining
    pass) planning costs less than that risk. The decisions' statements stay prepared: keep
    autovacuum on (docs/deploy.md, Sizing)."""


def _prepare(sql: str, params: Any) -> bool:
    return params is not None and not isinstance(sql, Unprepared)


def _encoded(sql: str) -> bytes:
    """A statement as UTF-8 bytes, encoded once. psycopg encodes a str query on every execute
    and then hashes the new bytes for its query and prepared-statement caches (a state
    statement is 1-2 KB); the same bytes object carries its hash."""
    data = _ENCODED.get(sql)
    if data is None:
        if len(_ENCODED) > 1024:
            _ENCODED.clear()
        data = _ENCODED[sql] = sql.encode("utf-8")
    return data


class PgSessions:
    """Sessions, statements and transactions of the PostgreSQL stores (mixed into PostgresStore,
    which sets engine, _local, _sessions and _closed)."""

    engine: "Engine"
    _idle: _Idle
    _local: _Local
    _sessions: "weakref.WeakSet[_Session]"
    _closed: bool

    def chain_ledger(self, org: str | None = None, *, wait: bool = True) -> int:  # pg_ledger.PgLedger
        raise NotImplementedError

    # --- sessions and statements --------------------------------------------------------

    def _session(self) -> _Session:
        s = self._local.session
        if s is None or s.pid != os.getpid():
            if self._closed:
                raise StoreUnavailable("the store is closed")
            s = _Session(self)
            self._local.session = s
            self._sessions.add(s)
        return s

    def _send(self, s: _Session, stmts: list[tuple]) -> list[tuple]:
        """Send statements in one round trip (pipeline if several); rows of the last one.
        Outside a transaction the connection goes back to the pool afterwards."""
        try:
            return self._send_on(s, s.attach(), stmts)
        finally:
            if not s.depth:
                s.release()

    def _send_on(self, s: _Session, conn: psycopg.Connection, stmts: list[tuple]) -> list[tuple]:
        if any(sql == "BEGIN" for sql, _, _ in stmts):
            s.sent = True
        try:
            if len(stmts) == 1 and stmts[0][2] is None:
                sql, params, _ = stmts[0]
                cur = s.cur
                if cur is None:
                    cur = s.cur = conn.cursor()
                cur.execute(_encoded(sql), params, prepare=_prepare(sql, params))
            else:
                with conn.pipeline():
                    for sql, params, many in stmts:
                        if many is not None:
                            cur = conn.cursor()
                            cur.executemany(_encoded(sql), many)
                        else:
                            cur = conn.execute(_encoded(sql), params, prepare=_prepare(sql, params))
            return cur.fetchall() if cur.pgresult is not None and cur.pgresult.status == pq.ExecStatus.TUPLES_OK else []
        except psycopg.OperationalError as exc:
            if conn.closed or conn.broken:
                s.discard()
                s.reset()
                s.aborted = bool(s.depth)  # the transaction is gone with the connection
                raise StoreUnavailable(f"PostgreSQL is unreachable: {exc}") from exc
            self._rollback_quietly(s)
            raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
        except psycopg.Error:
            self._rollback_quietly(s)
            raise

    def _rollback_quietly(self, s: _Session) -> None:
        conn = s.conn
        try:
            if conn is not None and not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            s.discard()
        extra = s.extra
        s.reset()
        s.extra = extra
        s.aborted = bool(s.depth)  # the transaction is gone: the rest of it must not run

    def _prepare_tx(self, s: _Session, keys: set[tuple[int, int]] | None = None) -> None:
        """Inside a transaction: queue BEGIN (once) and the advisory locks not yet held."""
        if s.aborted:
            raise StoreUnavailable("the transaction was aborted by an earlier error")
        if not s.begun:
            s.outbox.append(("BEGIN", None, None))
            s.begun = True
        wanted = s.wanted
        if keys:
            wanted = wanted | keys
        if wanted:
            new = sorted(wanted - s.held)
            if new:
                values = [key for _, key in new]
                s.outbox.append((_lock_sql(len(values)), (values[0] if len(values) == 1 else int_array(values),), None))
                s.held.update(new)
            s.wanted = set()

    def _fetch(self, sql: str, params: Any, *, lock_keys: set[tuple[int, int]] | None = None) -> list[tuple]:
        """A read: joins the transaction (after its locks and queued writes) if one is open."""
        s = self._session()
        if s.depth and (s.begun or s.wanted or lock_keys):
            self._prepare_tx(s, lock_keys)
        stmts = s.outbox + [(sql, params, None)]
        s.outbox = []
        return self._send(s, stmts)

    def _write(self, sql: str, params: Any = None, many: Sequence[tuple] | None = None) -> None:
        """A write: queued in a transaction (sent with the next read or the COMMIT), else now."""
        s = self._session()
        if s.depth:
            self._prepare_tx(s)
            s.outbox.append((sql, params, many))
            return
        if many is not None:
            self._send(s, [("BEGIN", None, None), (sql, None, many), ("COMMIT", None, None)])
            s.reset()
        else:
            self._send(s, [(sql, params, None)])

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def transaction(self, org: str | None = None, number: str | None = None) -> Iterator[None]:
        s = self._session()
        if org is not None and number is not None:
            self._want_lock(s, org, number)
        if s.depth:
            s.depth += 1
            try:
                yield
            finally:
                s.depth -= 1
            return
        s.depth = 1
        try:
            yield
        except BaseException:
            s.depth = 0
            self._abort(s)
            s.release()
            raise
        s.depth = 0
        try:
            self._commit(s)
        finally:
            s.release()

    def _want_lock(self, s: _Session, org: str, number: str) -> None:
        key = (_RANK["n"], lock_key("n", org, number))
        if key not in s.held:
            s.wanted.add(key)

    def _commit(self, s: _Session) -> None:
        aborted = s.aborted
        if s.begun and not aborted:
            outbox = s.outbox
            try:
                if not s.sent and outbox and outbox[0][0] == "BEGIN":
                    # Nothing sent yet (no lock, no read in the transaction): its writes alone.
                    merged = _merge_inserts(outbox[1:])
                    if merged is not None:
                        self._send(s, [merged])  # one statement: atomic by itself
                        return
                    self._send(s, outbox + [("COMMIT", None, None)])
                    return
                merged = _merge_inserts(outbox)
                self._send(s, ([merged] if merged is not None else outbox) + [("COMMIT", None, None)])
            finally:
                s.reset()
        else:
            s.reset()
            if aborted:
                raise StoreUnavailable("the transaction was aborted by an earlier error")

    def _abort(self, s: _Session) -> None:
        sent = s.sent
        s.reset()
        if sent and s.fairy is not None:
            try:
                s.conn.execute("ROLLBACK")
            except psycopg.Error:
                s.discard()

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection]:
        """The psycopg connection, for ad-hoc SQL by tests and tools: queued writes sent and,
        outside a transaction, the ledger chained (so `ledger` holds every committed entry)."""
        s = self._session()
        if not s.depth:
            self.chain_ledger()
        if s.outbox:
            self._send(s, s.outbox)
            s.outbox = []
        with self._pinned(s) as conn:
            yield conn

    @contextmanager
    def _pinned(self, s: _Session) -> Iterator[psycopg.Connection]:
        """The session's connection, kept (not given back to the pool) while the caller works on it."""
        conn = s.attach()
        s.pinned += 1
        try:
            yield conn
        finally:
            s.pinned -= 1
            s.release()
