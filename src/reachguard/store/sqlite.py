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
from hashlib import sha256
from pathlib import Path
from typing import Iterator, Sequence

from reachguard.state import (
    AccountRecord,
    ConsentRecord,
    ContactRecord,
    OptOutRecord,
    OutcomeRecord,
    RecipientState,
)
from reachguard.ledger.chain import GENESIS, LedgerEntry, entry_hash
from reachguard.store.sqlite_gate import WriteGate
from reachguard.store.base import (
    ComplaintCase,
    AggregateRow,
    AppealRow,
    ApiKeyRecord,
    ReporterRow,
    ReportRow,
    Checkpoint,
    NewContact,
    PendingEntry,
    StateQuery,
    Store,
    StoreUnavailable,
    BadDatabaseUrl,
    LEDGER_PAGE,
    and_where,
    paged_ledger_range,
    decision_filters,
    number_records_from,
)
from reachguard.store import sqlite_keys

SCHEMA_VERSION = 2  # 2: dnc_keys, opt_out_keys (sqlite_keys.py)

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
CREATE TABLE IF NOT EXISTS inbound(
  seq INTEGER PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL, org TEXT,
  text TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS inbound_by_sender ON inbound(sender);
CREATE TABLE IF NOT EXISTS template_versions(
  org TEXT NOT NULL, template_id TEXT NOT NULL, version INTEGER NOT NULL, text TEXT NOT NULL,
  author TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(org, template_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS template_reviews(
  org TEXT NOT NULL, template_id TEXT NOT NULL, version INTEGER NOT NULL, level INTEGER NOT NULL,
  level_name TEXT NOT NULL, reviewer TEXT NOT NULL, verdict TEXT NOT NULL, comment TEXT NOT NULL, at REAL NOT NULL,
  PRIMARY KEY(org, template_id, version, level)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger(
  org TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, at REAL NOT NULL, number TEXT, tag TEXT,
  body TEXT NOT NULL, body_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL,
  PRIMARY KEY(org, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_by_number ON ledger(number, org) WHERE number IS NOT NULL;
CREATE TABLE IF NOT EXISTS api_keys(
  key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, org TEXT NOT NULL, role TEXT NOT NULL,
  created_at REAL NOT NULL, revoked_at REAL, label TEXT);
CREATE TABLE IF NOT EXISTS checkpoints(
  org TEXT NOT NULL, seq INTEGER NOT NULL, entry_hash TEXT NOT NULL, signed_at REAL NOT NULL,
  key_id TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY(org, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS complaint_cases(
  org TEXT NOT NULL, seq INTEGER NOT NULL, number TEXT, at REAL NOT NULL, text TEXT, status TEXT NOT NULL,
  assignee TEXT, reply TEXT, acknowledged_at REAL, resolved_at REAL, updated_at REAL,
  PRIMARY KEY(org, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reports(
  seq INTEGER PRIMARY KEY, number TEXT NOT NULL, label TEXT NOT NULL, reporter BLOB NOT NULL, at REAL NOT NULL, text TEXT);
CREATE TABLE IF NOT EXISTS report_aggregates(
  number TEXT PRIMARY KEY, votes BLOB NOT NULL, reports INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reporters(
  hash BLOB PRIMARY KEY, first_at REAL NOT NULL, last_at REAL NOT NULL, reports INTEGER NOT NULL, burst REAL NOT NULL,
  burst_at REAL NOT NULL, peak REAL NOT NULL, agree INTEGER NOT NULL, disagree INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS appeals(
  id INTEGER PRIMARY KEY, number TEXT NOT NULL, org TEXT NOT NULL, label TEXT, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS appeals_by_number ON appeals(number);
CREATE TABLE IF NOT EXISTS sender_numbers(
  number TEXT PRIMARY KEY, org TEXT NOT NULL, at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sender_numbers_by_org ON sender_numbers(org);
"""


_PARTS = (
    "SELECT 0, number, org, seq, channels, at, expires_at, withdrawn FROM consents WHERE {n} {o}",
    "SELECT 1, number, org, channels, at, kind, NULL, NULL FROM opt_outs WHERE {n}",
    "SELECT 2, number, NULL, list, NULL, NULL, NULL, NULL FROM dnc WHERE {n}",
    "SELECT 3, number, org, channel, purpose, relation, subject, at FROM contacts WHERE {n} {o} AND at >= {since}",
    "SELECT 4, number, org, subject, result, at, NULL, NULL FROM outcomes WHERE {n} {o}",
)
# One round trip for everything keyed by number: a single decision, or a whole batch.
_SINGLE_SQL = " UNION ALL ".join(p.format(n="number = ?1", o="AND org = ?2", since="?3") for p in _PARTS)
_BATCH_SQL = " UNION ALL ".join(
    p.format(n="number IN (SELECT value FROM json_each(?1))", o="", since="?2") for p in _PARTS
)


# A batch's debts: JSON arrays of [org, subject] (or [org, borrower]) pairs.
_PAIRS = "SELECT json_extract(value, '$[0]') AS o, json_extract(value, '$[1]') AS s FROM json_each(?1)"
_ACCOUNTS_SQL = (f"SELECT a.org, a.subject, a.borrower, a.days_past_due, a.contacts, a.at FROM ({_PAIRS}) AS k "
                 "JOIN accounts a ON a.org = k.o AND a.subject = k.s")
_BORROWER_OUTCOMES_SQL = (f"SELECT o.org, o.number, o.subject, o.result, o.at FROM ({_PAIRS}) AS k "
                          "JOIN outcomes o ON o.number = k.s AND o.org = k.o ORDER BY o.at")
_SUBJECT_CONTACTS_SQL = (f"SELECT c.org, c.number, c.channel, c.purpose, c.relation, c.subject, c.at FROM ({_PAIRS}) AS k "
                         "JOIN contacts c ON c.org = k.o AND c.subject = k.s AND c.at >= ?2")


def _add_row(state: RecipientState, state_org: str, kind: int, org: str | None, row: tuple) -> None:
    """Route one row of the union query into the state of one (org, number)."""
    if kind == 1:
        state.opt_outs.append(OptOutRecord(org, row[3], row[4], row[5]))
    elif kind == 2:
        state.lists.add(row[3])
    elif org != state_org:
        return
    elif kind == 3:
        state.contacts.append(ContactRecord(org, row[1], row[3], row[4], row[5], row[6], row[7]))
    elif kind == 0:
        state.consents.append(ConsentRecord(row[3], row[4], row[5], row[6], bool(row[7])))
    elif kind == 4:
        state.outcomes.append(OutcomeRecord(row[3], row[4], row[5]))


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


class SQLiteStore(Store):
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

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        return StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}")

    def _prepare(self, synchronous: str) -> None:
        """Connection settings, then the schema (created, or brought up to date)."""
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
            # Verification looks codes up with the number (contact_by_code): contacts_by_number finds
            # them. An index on the codes alone, random by design, put every allowed SMS on its own
            # page: ~4 KB of WAL per contact, most of a batch's commit. Stores made before lose it here.
            db.execute("DROP INDEX IF EXISTS contacts_by_code")
            sqlite_keys.ensure(db)  # the scrub's key tables: created, or backfilled in an older store
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

    # --- reads --------------------------------------------------------------------------

    def load_state(self, query: StateQuery) -> RecipientState:
        return self.load_states([query])[0]

    def load_states(self, queries: Sequence[StateQuery]) -> list[RecipientState]:
        """States for many attempts with one query per table kind (a batch reads set-wise).

        Attempts of a batch to the same org and number share one state object, so contacts
        recorded for the earlier ones count for the later ones.
        """
        db = self._db
        if len(queries) == 1:
            q = queries[0]
            rows = db.execute(_SINGLE_SQL, (q.number, q.org, q.contacts_since))
        else:
            numbers = json.dumps(sorted({q.number for q in queries}))
            rows = db.execute(_BATCH_SQL, (numbers, min(q.contacts_since for q in queries)))
        states: dict[tuple[str, str], RecipientState] = {}
        by_number: dict[str, list[tuple[str, RecipientState]]] = {}
        result = []  # each query's state (one pass: a batch has thousands)
        for q in queries:
            state = states.get((q.org, q.number))
            if state is None:
                state = states[(q.org, q.number)] = RecipientState(q.number)
                owners = by_number.get(q.number)
                if owners is None:
                    by_number[q.number] = [(q.org, state)]
                else:
                    owners.append((q.org, state))
            result.append(state)
        for row in rows:
            for org, state in by_number.get(row[1], ()):
                _add_row(state, org, row[0], row[2], row)
        firsts: dict[tuple[str, str], StateQuery] = {}  # per debt, its first query decides what is read
        for q in queries:
            if q.purpose == "collection" and q.subject is not None and (q.org, q.subject) not in firsts:
                firsts[(q.org, q.subject)] = q
        if not firsts:
            return result
        if len(firsts) == 1:
            accounts = {key: self._account_parts(q) for key, q in firsts.items()}
        else:
            accounts = self._accounts_parts(firsts)
        for index, q in enumerate(queries):
            if q.purpose == "collection" and q.subject is not None:
                account, borrower_outcomes, subject_contacts = accounts[(q.org, q.subject)]
                if account is not None and account.borrower == q.number:
                    borrower_outcomes = []
                result[index] = result[index].with_account(account, borrower_outcomes, subject_contacts)
        return result

    def _accounts_parts(self, firsts: dict[tuple[str, str], StateQuery]) -> dict[tuple[str, str], tuple]:
        """_account_parts for every debt of a batch in three statements, not three per debt.

        The contacts' lower bound is compared here, per debt, as a float: bound through JSON
        it would be parsed by SQLite's own number reader."""
        db = self._db
        keys = json.dumps(list(firsts), ensure_ascii=False)
        accounts = {
            (row[0], row[1]): AccountRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])
            for row in db.execute(_ACCOUNTS_SQL, (keys,))
        }
        outcomes: dict[tuple[str, str], list[OutcomeRecord]] = {}
        if accounts:
            borrowers = json.dumps(sorted({(a.org, a.borrower) for a in accounts.values()}), ensure_ascii=False)
            for org, number, subject, result, at in db.execute(_BORROWER_OUTCOMES_SQL, (borrowers,)):
                outcomes.setdefault((org, number), []).append(OutcomeRecord(subject, result, at))
        wanted = [key for key, q in firsts.items() if q.need_subject_contacts]
        rows_by_debt: dict[tuple[str, str], list[tuple]] = {}
        if wanted:
            since = min(firsts[key].contacts_since for key in wanted)
            for row in db.execute(_SUBJECT_CONTACTS_SQL, (json.dumps(wanted, ensure_ascii=False), since)):
                rows_by_debt.setdefault((row[0], row[5]), []).append(row)
        parts = {}
        for key, q in firsts.items():
            account = accounts.get(key)
            borrower_outcomes = list(outcomes.get((account.org, account.borrower), ())) if account is not None else []
            subject_contacts: list[ContactRecord] = []
            if q.need_subject_contacts:
                since = q.contacts_since
                subject_contacts = [ContactRecord(*row) for row in rows_by_debt.get(key, ()) if row[6] >= since]
            parts[key] = (account, borrower_outcomes, subject_contacts)
        return parts

    def _account_parts(self, q: StateQuery) -> tuple:
        """The account, its borrower's outcomes and the contacts about it (shared in a batch)."""
        account = self._account(q.org, q.subject)  # type: ignore[arg-type]
        borrower_outcomes = self._outcomes(q.org, account.borrower) if account is not None else []
        subject_contacts: list[ContactRecord] = []
        if q.need_subject_contacts:
            subject_contacts = [
                ContactRecord(q.org, *row)
                for row in self._db.execute(
                    "SELECT number, channel, purpose, relation, subject, at FROM contacts WHERE org=? AND subject=? AND at>=?",
                    (q.org, q.subject, q.contacts_since),
                )
            ]
        return account, borrower_outcomes, subject_contacts

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

    def record_contacts(self, contacts: Sequence[NewContact]) -> None:
        if not contacts:
            return
        rows = [
            (c.org, c.number, c.channel, c.purpose, c.relation, c.subject, c.at, attempt_id, agent, code)
            for c, attempt_id, agent, code in contacts
        ]
        with self.transaction():
            self._db.executemany(
                "INSERT INTO contacts(org, number, channel, purpose, relation, subject, at, attempt_id, agent, code) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
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

    # --- ledger -------------------------------------------------------------------------

    def ledger_append(self, entries: Sequence[PendingEntry]) -> None:
        if not entries:
            return
        db = self._db
        with self.transaction():
            heads = self._heads
            rows = []
            current, seq, prev = None, 0, GENESIS  # the head of the org of the previous entry (a batch has one org)
            for org, kind, at, number, tag, body in entries:
                if org != current:
                    if current is not None:
                        heads[current] = (seq, prev)
                    head = heads.get(org)
                    if head is None:
                        row = db.execute("SELECT seq, entry_hash FROM ledger WHERE org=? ORDER BY seq DESC LIMIT 1", (org,)).fetchone()
                        head = (row[0], row[1]) if row else (0, GENESIS)
                    current, (seq, prev) = org, head
                seq += 1
                body_hash = sha256(body).hexdigest()  # chain.make_entry's hashes, without the struct per entry
                digest = entry_hash(org, seq, kind, at, prev, body_hash)
                rows.append((org, seq, kind, at, number, tag, body.decode("utf-8"), body_hash, prev, digest))
                prev = digest
            heads[current] = (seq, prev)  # type: ignore[index]
            db.executemany("INSERT INTO ledger VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def ledger_entries(self, org: str, at_from: float | None = None, at_to: float | None = None) -> Iterator[LedgerEntry]:
        sql = "SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger WHERE org=? AND seq>?"
        extra: list = []
        if at_from is not None:
            sql += " AND at >= ?"
            extra.append(at_from)
        if at_to is not None:
            sql += " AND at < ?"
            extra.append(at_to)
        sql += " ORDER BY seq LIMIT 5000"
        after = 0
        while True:  # pages, so that a long chain never sits in memory whole
            with self._lock:
                rows = self._db.execute(sql, [org, after, *extra]).fetchall()
            for row in rows:
                yield LedgerEntry(*row)
            if len(rows) < 5000:
                return
            after = rows[-1][1]

    def ledger_orgs(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT org FROM ledger ORDER BY org")]

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", (key, value))

    def init_meta(self, key: str, value: str) -> str:
        self._write("INSERT OR IGNORE INTO meta(key, value) VALUES (?,?)", (key, value))
        stored = self.get_meta(key)
        assert stored is not None  # meta rows are never deleted
        return stored

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._gate is not None:
                self._gate.close()

    # --- service (keys, checkpoints, reads) ---------------------------------------------

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def add_api_key(self, key: ApiKeyRecord, key_hash: str) -> None:
        self._write(
            "INSERT INTO api_keys(key_id, key_hash, org, role, created_at, revoked_at, label) VALUES (?,?,?,?,?,?,?)",
            (key.key_id, key_hash, key.org, key.role, key.created_at, key.revoked_at, key.label),
        )

    _KEY_COLUMNS = "key_id, org, role, created_at, revoked_at, label"

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        rows = self._rows(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE key_hash=?", (key_hash,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_keys(self, org: str | None = None) -> list[ApiKeyRecord]:
        if org is None:
            rows = self._rows(f"SELECT {self._KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
        else:
            rows = self._rows(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE org=? ORDER BY created_at, key_id", (org,))
        return [ApiKeyRecord(*row) for row in rows]

    def revoke_api_key(self, key_id: str, at: float, org: str | None = None) -> bool:
        sql = "UPDATE api_keys SET revoked_at=? WHERE key_id=? AND revoked_at IS NULL"
        params: list = [at, key_id]
        if org is not None:
            sql += " AND org=?"
            params.append(org)
        with self.transaction():
            return self._db.execute(sql, params).rowcount > 0

    def ledger_head(self, org: str) -> tuple[int, str] | None:
        rows = self._rows("SELECT seq, entry_hash FROM ledger WHERE org=? ORDER BY seq DESC LIMIT 1", (org,))
        return (rows[0][0], rows[0][1]) if rows else None

    def ledger_range(self, org: str, seq_from: int, seq_to: int) -> Iterator[LedgerEntry]:
        sql = ("SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger "
               f"WHERE org=? AND seq>=? AND seq<=? ORDER BY seq LIMIT {LEDGER_PAGE}")
        return paged_ledger_range(lambda start: self._rows(sql, (org, start, seq_to)), seq_from, seq_to)

    def ledger_seq_bounds(self, org: str, at_from: float | None, at_to: float | None) -> tuple[int, int] | None:
        extra, values = and_where(("at >= ?", at_from), ("at < ?", at_to))
        row = self._rows("SELECT min(seq), max(seq) FROM ledger WHERE org=?" + extra, [org, *values])[0]
        return None if row[0] is None else (row[0], row[1])

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        c = checkpoint
        self._write(
            "INSERT OR REPLACE INTO checkpoints(org, seq, entry_hash, signed_at, key_id, signature) VALUES (?,?,?,?,?,?)",
            (c.org, c.seq, c.entry_hash, c.signed_at, c.key_id, c.signature),
        )

    def checkpoints(self, org: str, seq_from: int | None = None, seq_to: int | None = None) -> list[Checkpoint]:
        extra, values = and_where(("seq >= ?", seq_from), ("seq <= ?", seq_to))
        sql = "SELECT org, seq, entry_hash, signed_at, key_id, signature FROM checkpoints WHERE org=?" + extra + " ORDER BY seq"
        return [Checkpoint(*row) for row in self._rows(sql, [org, *values])]

    def number_history(self, org: str, number: str, limit: int = 500) -> list[LedgerEntry]:
        rows = self._rows(
            "SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger "
            "WHERE number=? AND org IN (?, '*') ORDER BY at DESC, org DESC, seq DESC LIMIT ?",
            (number, org, limit),
        )
        return [LedgerEntry(*row) for row in reversed(rows)]

    def number_records(self, org: str, number: str) -> dict[str, list[dict]]:
        accounts = []
        for subject, borrower, dpd, contacts, at in self._rows(
            "SELECT subject, borrower, days_past_due, contacts, at FROM accounts WHERE org=? "
            "AND (borrower=? OR instr(contacts, ?) > 0) ORDER BY subject",
            (org, number, json.dumps(number)),
        ):
            designated = json.loads(contacts)
            if borrower != number and number not in designated:
                continue
            role = "borrower" if borrower == number else "contact"
            accounts.append({"subject": subject, "role": role, "borrower": borrower, "days_past_due": dpd,
                             "authorized": designated.get(number) if role == "contact" else None, "at": at})
        return number_records_from(self._rows, org, number, accounts)

    def decisions(
        self,
        org: str,
        at_from: float | None = None,
        at_to: float | None = None,
        verdict: str | None = None,
        reason: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[LedgerEntry]:
        tail, params = decision_filters(
            "?", "EXISTS (SELECT 1 FROM json_each(body, '$.decision.reasons') AS r WHERE json_extract(r.value, '$.code') = ?)",
            org, after_seq, at_from, at_to, verdict, reason, limit,
        )
        sql = "SELECT org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash FROM ledger" + tail
        return [LedgerEntry(*row) for row in self._rows(sql, params)]

    def contact_by_code(self, code: str, number: str) -> tuple[str, float] | None:
        rows = self._rows("SELECT org, at FROM contacts WHERE code=? AND number=? ORDER BY seq LIMIT 1", (code, number))
        return (rows[0][0], rows[0][1]) if rows else None

    # --- complaint cases (web console) ---------------------------------------------------

    def complaint_cases_add(self, cases: Sequence[ComplaintCase]) -> None:
        rows = [(c.org, c.seq, c.number, c.at, c.text, c.status) for c in cases]
        with self.transaction():
            self._db.executemany("INSERT OR IGNORE INTO complaint_cases(org, seq, number, at, text, status) "
                                 "VALUES (?,?,?,?,?,?)", rows)

    def complaint_cases(self, org: str, limit: int = 500) -> list[ComplaintCase]:
        rows = self._rows("SELECT org, seq, number, at, text, status, assignee, reply, acknowledged_at, resolved_at, "
                          "updated_at FROM complaint_cases WHERE org=? ORDER BY status = 'resolved', at, seq LIMIT ?",
                          (org, limit))
        return [ComplaintCase(*row) for row in rows]

    def complaint_case_update(self, org: str, seq: int, status: str, assignee: str | None, reply: str | None,
                              at: float) -> bool:
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE complaint_cases SET status=:status, assignee=:assignee, reply=:reply, updated_at=:at, "
                "acknowledged_at=COALESCE(acknowledged_at, CASE WHEN :status IN ('acknowledged', 'resolved') THEN :at END), "
                "resolved_at=CASE WHEN :status = 'resolved' THEN COALESCE(resolved_at, :at) END "
                "WHERE org=:org AND seq=:seq",
                {"status": status, "assignee": assignee, "reply": reply, "at": at, "org": org, "seq": seq})
            return cursor.rowcount > 0

    # --- templates (content review: approval chain) -------------------------------------

    def template_add_version(self, org: str, template_id: str, text: str, author: str, at: float) -> int:
        with self.transaction():
            row = self._db.execute(
                "SELECT max(version) FROM template_versions WHERE org=? AND template_id=?", (org, template_id)
            ).fetchone()
            version = (row[0] or 0) + 1
            self._db.execute("INSERT INTO template_versions VALUES (?,?,?,?,?,?)", (org, template_id, version, text, author, at))
        return version

    def template_version(self, org: str, template_id: str, version: int | None = None) -> tuple | None:
        sql = "SELECT org, template_id, version, text, author, at FROM template_versions WHERE org=? AND template_id=?"
        params: tuple = (org, template_id)
        if version is not None:
            sql, params = sql + " AND version=?", (org, template_id, version)
        with self._lock:
            return self._db.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchone()

    def template_add_review(self, org: str, template_id: str, version: int, level: int, level_name: str,
                            reviewer: str, verdict: str, comment: str, at: float) -> None:
        self._write("INSERT INTO template_reviews VALUES (?,?,?,?,?,?,?,?,?)",
                    (org, template_id, version, level, level_name, reviewer, verdict, comment, at))

    def template_reviews(self, org: str, template_id: str, version: int) -> list[tuple]:
        with self._lock:
            return self._db.execute(
                "SELECT level, level_name, reviewer, verdict, comment, at FROM template_reviews "
                "WHERE org=? AND template_id=? AND version=? ORDER BY level", (org, template_id, version)
            ).fetchall()

    def template_ids(self, org: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT DISTINCT template_id FROM template_versions WHERE org=? ORDER BY template_id", (org,))]

    # --- reputation (reports, appeals, sender numbers) ----------------------------------

    def _in_chunks(self, sql: str, keys: Sequence) -> list[tuple]:
        """`sql` with `{marks}` for an IN list, run over chunks of keys (SQLite's variable limit)."""
        rows: list[tuple] = []
        keys = list(keys)
        with self._lock:
            for start in range(0, len(keys), 10_000):
                chunk = keys[start:start + 10_000]
                rows.extend(self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk))
        return rows

    def report_aggregates(self, numbers: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        if len(numbers) == 1:
            rows = self._rows("SELECT number, votes, reports FROM report_aggregates WHERE number=?", (numbers[0],))
        else:
            rows = self._in_chunks("SELECT number, votes, reports FROM report_aggregates WHERE number IN ({marks})", numbers)
        return {row[0]: (row[1], row[2]) for row in rows}

    def reporters(self, hashes: Sequence[bytes]) -> dict[bytes, ReporterRow]:
        rows = self._in_chunks(
            "SELECT hash, first_at, last_at, reports, burst, burst_at, peak, agree, disagree FROM reporters "
            "WHERE hash IN ({marks})", hashes)
        return {row[0]: row for row in rows}  # type: ignore[misc]

    def save_reports(self, reports: Sequence[ReportRow], aggregates: Sequence[AggregateRow],
                     reporters: Sequence[ReporterRow]) -> None:
        with self.transaction():
            db = self._db
            db.executemany("INSERT INTO reports(number, label, reporter, at, text) VALUES (?,?,?,?,?)", reports)
            db.executemany("INSERT OR REPLACE INTO report_aggregates(number, votes, reports) VALUES (?,?,?)", aggregates)
            db.executemany("INSERT OR REPLACE INTO reporters VALUES (?,?,?,?,?,?,?,?,?)", reporters)

    def report_log(self, after: int, limit: int) -> list[tuple[int, ReportRow]]:
        rows = self._rows("SELECT seq, number, label, reporter, at, text FROM reports WHERE seq > ? ORDER BY seq LIMIT ?",
                          (after, limit))
        return [(row[0], (row[1], row[2], bytes(row[3]), row[4], row[5])) for row in rows]

    def last_report_seq(self) -> int:
        return int(self._rows("SELECT max(seq) FROM reports")[0][0] or 0)

    def clear_report_aggregates(self) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM report_aggregates")
            self._db.execute("DELETE FROM reporters")

    def add_appeal(self, number: str, org: str, label: str | None, reason: str, at: float) -> int:
        with self.transaction():
            cursor = self._db.execute("INSERT INTO appeals(number, org, label, reason, at) VALUES (?,?,?,?,?)",
                                      (number, org, label, reason, at))
            return int(cursor.lastrowid or 0)

    def appeals(self, number: str) -> list[AppealRow]:
        return self._rows("SELECT id, number, org, label, reason, at FROM appeals WHERE number=? ORDER BY id", (number,))  # type: ignore[return-value]

    def set_sender_number(self, number: str, org: str, at: float, registered: bool = True) -> None:
        if registered:
            self._write("INSERT OR REPLACE INTO sender_numbers(number, org, at) VALUES (?,?,?)", (number, org, at))
        else:
            self._write("DELETE FROM sender_numbers WHERE number=? AND org=?", (number, org))

    def sender_number_org(self, number: str) -> str | None:
        rows = self._rows("SELECT org FROM sender_numbers WHERE number=?", (number,))
        return rows[0][0] if rows else None

    def sender_numbers(self, org: str) -> list[tuple[str, float]]:
        return self._rows("SELECT number, at FROM sender_numbers WHERE org=? ORDER BY number", (org,))  # type: ignore[return-value]

    def org_traffic(self, org: str, since: float) -> tuple[int, int, int, int, int]:
        row = self._rows(
            "SELECT (SELECT count(*) FROM contacts WHERE org=?1 AND at>=?2), "
            "(SELECT count(*) FROM opt_outs WHERE org=?1 AND kind='complaint' AND at>=?2), "
            "(SELECT count(*) FROM opt_outs WHERE org=?1 AND kind='opt_out' AND at>=?2), "
            "(SELECT count(*) FROM ledger WHERE org=?1 AND kind='decision' AND at>=?2), "
            "(SELECT count(*) FROM ledger WHERE org=?1 AND kind='decision' AND tag='deny' AND at>=?2)",
            (org, since))[0]
        return (row[0], row[1], row[2], row[3], row[4])
