"""The embedded default: one SQLite file (or `:memory:`), nothing to install.

WAL journal with synchronous=NORMAL: a committed decision survives a killed process
(kill -9); only a power cut can lose the last transactions (set synchronous=FULL for that).
Writes go through `BEGIN IMMEDIATE`, which takes SQLite's single write lock up front: two
processes deciding for the same number serialise there, so a cap can never be exceeded.
Within a process one connection is shared under a lock (SQLite allows one writer anyway).

The store is composed of mixins, one job each:
  sqlite_schema.py      tables (DDL), connection settings, what opening a store creates or upgrades
  sqlite_session.py     the connection, its lock, transactions (`BEGIN IMMEDIATE`), `_write`/`_rows`
  sqlite_state.py       a decision's state: `load_states` and the writes it reads (`record_contacts`, …)
  sqlite_snapshot.py    a batch's states read outside the write lock, and the proof under it that they hold
  sqlite_ledger.py      the hash-chained ledger (`ledger_append`), its reads, checkpoints
  sqlite_records.py     meta, API keys, per-number views, complaint cases, templates
  sqlite_reputation.py  reports, aggregates, reporters, appeals, sender numbers
  sqlite_keys.py        the scrub's key tables (triggers); sqlite_gate.py the cross-process write gate
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from reachguard.store.base import BadDatabaseUrl, Store
from reachguard.store import sqlite_schema
from reachguard.store.sqlite_gate import WriteGate
from reachguard.store.sqlite_ledger import SQLiteLedger
from reachguard.store.sqlite_records import SQLiteRecords
from reachguard.store.sqlite_reputation import SQLiteReputation
from reachguard.store.sqlite_schema import SCHEMA, SCHEMA_VERSION  # noqa: F401  (re-exported: tools and tests import them from here)
from reachguard.store.sqlite_state import SQLiteState


_SQLITE_URL_FORMS = ("sqlite:///relative/path.db, sqlite:////absolute/path.db, "
                     "or sqlite:// (an in-memory store)")


def sqlite_path(url_or_path: str) -> str:
    """A plain path or `:memory:` as given; a `sqlite:` URL read as SQLAlchemy reads it.

    `sqlite:///rel.db` is rel.db, `sqlite:////abs.db` is /abs.db and a bare `sqlite://` is an
    in-memory store. Any other `sqlite:` form is refused: `sqlite://rel.db` (a host where the
    path should be) or `sqlite:///` (no path) used to open a throw-away in-memory store, and
    every write made through it was lost without a word.
    """
    if not url_or_path.startswith("sqlite:"):
        return url_or_path
    if url_or_path == "sqlite://":
        return ":memory:"
    path = url_or_path[len("sqlite:///"):] if url_or_path.startswith("sqlite:///") else ""
    if not path or "?" in path:
        raise BadDatabaseUrl(f"bad database URL: {url_or_path!r}: expected {_SQLITE_URL_FORMS}"
                             + (", with no parameters" if "?" in path else ""))
    return path


class SQLiteStore(SQLiteState, SQLiteLedger, SQLiteRecords, SQLiteReputation, Store):
    """The SQLite backend: one file (or `:memory:`), one shared connection."""

    def __init__(self, path: str = "reachguard.db", *, synchronous: str = "NORMAL"):
        self.path = sqlite_path(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60.0)
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        self._lock = threading.RLock()
        self._gate = WriteGate(self.path) if self.path not in (":memory:", "") else None  # see sqlite_gate.py
        self._depth = 0
        self._heads: dict[str, tuple[int, str]] = {}  # org -> (seq, hash) within this transaction
        try:
            self._prepare(synchronous)
        except sqlite3.DatabaseError as exc:
            # connect() reads nothing: a file that is not a database (or is damaged) only fails
            # here, and was a traceback in every command instead of the store-unavailable error.
            self.close()
            raise self._unavailable(exc) from exc

    def _prepare(self, synchronous: str) -> None:
        """Connection settings, then the schema (created, or brought up to date): sqlite_schema.py."""
        sqlite_schema.configure(self._db, self.path, synchronous)
        with self.transaction():
            sqlite_schema.create_or_upgrade(self._db)
