"""The SQLite store's connection and transactions: one shared connection under a lock.

Why a module of its own: every other part of the store (state, ledger, records, reputation)
reads and writes through these few methods — `transaction` (BEGIN IMMEDIATE, nesting, the
cross-process write gate of sqlite_gate.py), `_write` (one statement in a transaction),
`_rows` (one read under the lock) and `read` (the connection, for other modules' queries).
`SQLiteStore.__init__` (sqlite.py) opens the connection and sets the attributes below.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

from reachguard.store.base import StoreUnavailable
from reachguard.store.sqlite_gate import WriteGate


class SQLiteSession:
    """Connection, lock and transactions of a SQLite store (mixed into SQLiteStore, which sets
    path, _db, _lock, _gate, _depth and _heads)."""

    path: str
    _db: sqlite3.Connection
    _lock: threading.RLock
    _gate: WriteGate | None
    _depth: int
    _heads: dict[str, tuple[int, str]]  # org -> (seq, hash) within this transaction (sqlite_ledger.py)

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        return StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}")

    # --- transactions -------------------------------------------------------------------

    @contextmanager
    def transaction(self, org: str | None = None, number: str | None = None) -> Iterator[None]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            gated = self._gate is not None and self._gate.acquire()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._heads.clear()  # ledger heads are only known while we hold the write lock
                self._depth = 1
                try:
                    yield
                except BaseException:
                    self._depth = 0
                    self._db.execute("ROLLBACK")
                    raise
                self._depth = 0
                self._db.execute("COMMIT")
            finally:
                if gated:
                    self._gate.release()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for read-only queries by other modules of the package."""
        with self._lock:
            yield self._db

    def _write(self, sql: str, params: tuple) -> None:
        with self.transaction():
            self._db.execute(sql, params)

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._gate is not None:
                self._gate.close()
