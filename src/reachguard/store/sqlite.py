"""The embedded default: one SQLite file (or `:memory:`), nothing to install.

WAL journal with synchronous=NORMAL: a committed decision survives a killed process
(kill -9); only a power cut can lose the last transactions (set synchronous=FULL for that).
Writes go through `BEGIN IMMEDIATE`, which takes SQLite's single write lock up front: two
processes deciding for the same number serialise there, so a cap can never be exceeded.
Within a process one connection is shared under a lock (SQLite allows one writer anyway).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from reachguard.state import (
    AccountRecord,
    ConsentRecord,
    ContactRecord,
    OptOutRecord,
    OutcomeRecord,
    RecipientState,
)
from reachguard.store.base import StateQuery, Store, StoreUnavailable

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consents(
  seq INTEGER PRIMARY KEY, org TEXT NOT NULL, number TEXT NOT NULL, channels INTEGER NOT NULL,
  at REAL NOT NULL, expires_at REAL, withdrawn INTEGER NOT NULL, evidence TEXT);
CREATE INDEX IF NOT EXISTS consents_by_number ON consents(number, org);
CREATE TABLE IF NOT EXISTS opt_outs(
  seq INTEGER PRIMARY KEY, number TEXT NOT NULL, org TEXT, channels INTEGER NOT NULL,
  at REAL NOT NULL, kind TEXT NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS opt_outs_by_number ON opt_outs(number);
CREATE TABLE IF NOT EXISTS dnc(
  number TEXT NOT NULL, list TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(number, list)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts(
  org TEXT NOT NULL, subject TEXT NOT NULL, borrower TEXT NOT NULL, days_past_due INTEGER NOT NULL,
  contacts TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(org, subject)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outcomes(
  seq INTEGER PRIMARY KEY, org TEXT NOT NULL, number TEXT NOT NULL, subject TEXT,
  result TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS outcomes_by_number ON outcomes(number, org);
CREATE TABLE IF NOT EXISTS contacts(
  seq INTEGER PRIMARY KEY, org TEXT NOT NULL, number TEXT NOT NULL, channel TEXT NOT NULL,
  purpose TEXT NOT NULL, relation TEXT NOT NULL, subject TEXT, at REAL NOT NULL,
  attempt_id TEXT, agent TEXT, code TEXT);
CREATE INDEX IF NOT EXISTS contacts_by_number ON contacts(number, org, at);
CREATE INDEX IF NOT EXISTS contacts_by_subject ON contacts(org, subject, at) WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS contacts_by_code ON contacts(code) WHERE code IS NOT NULL;
CREATE TABLE IF NOT EXISTS inbound(
  seq INTEGER PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL, org TEXT,
  text TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS inbound_by_sender ON inbound(sender);
"""


def sqlite_path(url_or_path: str) -> str:
    """Accept a plain path, `:memory:` or a `sqlite:///path` URL."""
    if url_or_path.startswith("sqlite:///"):
        return url_or_path[len("sqlite:///"):] or ":memory:"
    if url_or_path.startswith("sqlite://"):
        return ":memory:"
    return url_or_path


class SQLiteStore(Store):
    def __init__(self, path: str = "reachguard.db", *, synchronous: str = "NORMAL"):
        self.path = sqlite_path(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60.0)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self._depth = 0
        db = self._db
        db.execute("PRAGMA busy_timeout = 60000")
        if self.path != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute("PRAGMA cache_size = -65536")
        with self.transaction():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

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
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._db.execute("ROLLBACK")
                raise
            self._depth = 0
            self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for read-only queries by other modules of the package."""
        with self._lock:
            yield self._db

    # --- reads --------------------------------------------------------------------------

    def load_state(self, query: StateQuery) -> RecipientState:
        db = self._db
        number, org = query.number, query.org
        state = RecipientState(number=number)
        if query.purpose == "marketing":
            state.consents = [
                ConsentRecord(*row)
                for row in db.execute(
                    "SELECT seq, channels, at, expires_at, withdrawn FROM consents WHERE number=? AND org=? ORDER BY at, seq",
                    (number, org),
                )
            ]
        if query.purpose != "service":
            state.opt_outs = [
                OptOutRecord(*row) for row in db.execute("SELECT org, channels, at, kind FROM opt_outs WHERE number=?", (number,))
            ]
            state.lists = {row[0] for row in db.execute("SELECT list FROM dnc WHERE number=?", (number,))}
        state.contacts = [
            ContactRecord(org, number, *row)
            for row in db.execute(
                "SELECT channel, purpose, relation, subject, at FROM contacts WHERE number=? AND org=? AND at>=?",
                (number, org, query.contacts_since),
            )
        ]
        if query.purpose == "collection":
            state.outcomes = self._outcomes(org, number)
            if query.subject is not None:
                state.account = self._account(org, query.subject)
                if state.account is not None and state.account.borrower != number:
                    state.borrower_outcomes = self._outcomes(org, state.account.borrower)
                if query.need_subject_contacts:
                    state.subject_contacts = [
                        ContactRecord(org, *row)
                        for row in db.execute(
                            "SELECT number, channel, purpose, relation, subject, at FROM contacts "
                            "WHERE org=? AND subject=? AND at>=?",
                            (org, query.subject, query.contacts_since),
                        )
                    ]
        return state

    def _outcomes(self, org: str, number: str) -> list[OutcomeRecord]:
        return [
            OutcomeRecord(*row)
            for row in self._db.execute("SELECT subject, result, at FROM outcomes WHERE number=? AND org=? ORDER BY at", (number, org))
        ]

    def _account(self, org: str, subject: str) -> AccountRecord | None:
        row = self._db.execute(
            "SELECT borrower, days_past_due, contacts, at FROM accounts WHERE org=? AND subject=?", (org, subject)
        ).fetchone()
        if row is None:
            return None
        return AccountRecord(org, subject, row[0], row[1], json.loads(row[2]), row[3])

    # --- writes -------------------------------------------------------------------------

    def _write(self, sql: str, params: tuple) -> None:
        with self.transaction():
            self._db.execute(sql, params)

    def record_contact(self, contact: ContactRecord, attempt_id: str | None, agent: str | None, code: str | None) -> None:
        self._write(
            "INSERT INTO contacts(org, number, channel, purpose, relation, subject, at, attempt_id, agent, code) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (contact.org, contact.number, contact.channel, contact.purpose, contact.relation, contact.subject,
             contact.at, attempt_id, agent, code),
        )

    def add_consent(self, org: str, number: str, channels: int, at: float, expires_at: float | None, evidence: str | None) -> None:
        self._write(
            "INSERT INTO consents(org, number, channels, at, expires_at, withdrawn, evidence) VALUES (?,?,?,?,?,0,?)",
            (org, number, channels, at, expires_at, evidence),
        )

    def withdraw_consent(self, org: str, number: str, channels: int, at: float) -> None:
        self._write(
            "INSERT INTO consents(org, number, channels, at, expires_at, withdrawn) VALUES (?,?,?,?,NULL,1)",
            (org, number, channels, at),
        )

    def add_opt_out(self, number: str, org: str | None, channels: int, at: float, kind: str, note: str | None) -> None:
        self._write(
            "INSERT INTO opt_outs(number, org, channels, at, kind, note) VALUES (?,?,?,?,?,?)",
            (number, org, channels, at, kind, note),
        )

    def set_listed(self, list_name: str, number: str, at: float, listed: bool) -> None:
        if listed:
            self._write("INSERT OR REPLACE INTO dnc(number, list, at) VALUES (?,?,?)", (number, list_name, at))
        else:
            self._write("DELETE FROM dnc WHERE number=? AND list=?", (number, list_name))

    def upsert_account(self, account: AccountRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO accounts(org, subject, borrower, days_past_due, contacts, at) VALUES (?,?,?,?,?,?)",
            (account.org, account.subject, account.borrower, account.days_past_due,
             json.dumps(account.contacts, ensure_ascii=False, sort_keys=True), account.at),
        )

    def add_outcome(self, org: str, number: str, subject: str | None, result: str, at: float) -> None:
        self._write(
            "INSERT INTO outcomes(org, number, subject, result, at) VALUES (?,?,?,?,?)", (org, number, subject, result, at)
        )

    def add_inbound(self, sender: str, to: str, org: str | None, text: str, at: float) -> None:
        self._write("INSERT INTO inbound(sender, recipient, org, text, at) VALUES (?,?,?,?,?)", (sender, to, org, text, at))

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", (key, value))

    def close(self) -> None:
        with self._lock:
            self._db.close()
