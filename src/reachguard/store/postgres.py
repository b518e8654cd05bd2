"""PostgreSQL backend: many processes (API replicas) deciding on one database.

Atomicity. `transaction(org, number)` runs in a READ COMMITTED transaction that first takes
`pg_advisory_xact_lock(k)`, k = a 64-bit hash of ("n", org, number), in a statement of its
own; the state is read by the *next* statement. Under READ COMMITTED every statement takes
a fresh snapshot, so the read happens after the lock is granted and sees every contact the
previous holder committed (xact locks are released only after the commit is visible).
Two deciders for the same org and number therefore never interleave, across processes
and hosts, while different numbers never wait for each other. (REPEATABLE READ would be
wrong here: its snapshot is taken by the first statement — the lock wait — so the reader
could miss the contact the previous holder just committed. SERIALIZABLE would also be
correct but aborts and retries under contention instead of queueing.)

* Keys are computed by the client (blake2b, 64 bits, namespaced: "n" org+number, "s"
  org+subject, "l" ledger org) rather than with hashtextextended() in SQL: a batch must take
  its locks in one global order (all number keys sorted, then subject keys sorted) to be
  free of deadlocks, and the client can only sort what it can compute.
* Per-debt caps (Regulation F: calls per debt, across the borrower's numbers) also take the
  ("s", org, subject) lock when the decision reads the debt's contacts.
* Round trips: BEGIN + lock + the state query go in one pipeline (psycopg pipeline mode),
  and the writes of the decision (contact, ledger entry) + COMMIT in another, so a decision
  costs two round trips. The state query is one UNION ALL statement (consents, opt-outs,
  lists, contacts, outcomes, and for collection the account, the borrower's outcomes and
  the debt's contacts), prepared server-side.

The ledger. Appending to an org's hash chain needs the previous entry's hash, so appends to
one chain are serial; doing it inside every decision would make each org's decisions wait
for each other's commit (and fsync). Instead a decision writes its entry to
`ledger_pending` in its own transaction (durable, atomic with the decision, no contention),
and the chainer moves pending entries into `ledger` in id order under the org's advisory
lock ("l", org) — serialised per org, never globally. It runs before every ledger read of
this store (so reads see every committed entry, chained) and in a background thread every
`chain_interval` seconds (pg_try_advisory_xact_lock: replicas skip an org another is
chaining). For one writer the chain is identical, hash for hash, to the SQLite store's.

Schema: Alembic migrations in `store/migrations/` (`reachguard db upgrade`); a store opened
on a database that is behind upgrades it itself under an advisory lock unless
`upgrade=False` (or REACHGUARD_DB_AUTO_UPGRADE=0).

URL: postgresql://user@host:port/db[?schema=NAME][&synchronous_commit=off][&pool_size=N].
`schema` puts every table (and alembic_version) in that schema (created if missing).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import psycopg
import sqlalchemy as sa
from psycopg import pq

from reachguard.ledger.chain import GENESIS, GLOBAL_ORG, LedgerEntry, entry_hash
from reachguard.state import AccountRecord, RecipientState
from reachguard.store.base import (
    AggregateRow,
    ApiKeyRecord,
    AppealRow,
    Checkpoint,
    ComplaintCase,
    NewContact,
    PendingEntry,
    ReporterRow,
    ReportRow,
    StateQuery,
    Store,
    StoreUnavailable,
    number_records_from,
)
from reachguard.store.pg_engine import (  # noqa: F401  (re-exported: tools and tests import them from here)
    MIGRATIONS,
    _alembic_config,
    _CURRENT,
    _ENGINES_LOCK,
    current_revision,
    engine_for,
    ensure_schema,
    head_revision,
    is_postgres_url,
    parse_url,
    upgrade,
)
from reachguard.store.pg_params import float_array, int_array, text_array
from reachguard.store.pg_state import Loaded, batch_sql, contact_token, single_sql  # noqa: F401

_CHAIN_BATCH = 5000
_LEDGER_COLUMNS = "org, seq, kind, at, number, tag, body, body_hash, prev_hash, entry_hash"
# The chainer's two statements: pending entries in id order with their bodies' SHA-256 (or the
# body itself where the server cannot hash it), then one move from ledger_pending into ledger.
_PENDING_HASHED = ("SELECT id, kind, at, encode(sha256(convert_to(body, 'UTF8')), 'hex') FROM ledger_pending "
                   "WHERE org = %s ORDER BY id LIMIT %s")
_PENDING_BODIES = "SELECT id, kind, at, body FROM ledger_pending WHERE org = %s ORDER BY id LIMIT %s"
_MOVE_PENDING = (
    "WITH h AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]) "
    "AS t(id, seq, body_hash, prev_hash, entry_hash)), "
    "moved AS (DELETE FROM ledger_pending p USING h WHERE p.id = h.id "
    "RETURNING p.org, h.seq, p.kind, p.at, p.number, p.tag, p.body, h.body_hash, h.prev_hash, h.entry_hash), "
    f"ins AS (INSERT INTO ledger({_LEDGER_COLUMNS}) SELECT * FROM moved RETURNING 1) "
    "SELECT count(*) FROM ins"
)

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


# --- sessions: a thread's transaction, a pooled connection while it works -------------------------


class _Session:
    """A thread's transaction state (depth, statements waiting to be sent, locks) and the pooled
    connection it holds while it works: checked out by the first statement, returned to the
    pool (LIFO, so a busy thread keeps getting the same warm connection and its prepared
    statements) as soon as the thread is outside any transaction. So a replica's connections
    track its concurrent transactions, not how many threads ever touched the store."""

    __slots__ = ("store", "fairy", "conn", "pid", "depth", "begun", "sent", "aborted", "outbox", "held", "wanted", "extra",
                 "pinned", "__weakref__")

    def __init__(self, store: "PostgresStore"):
        self.store = store
        self.pid = os.getpid()
        self.fairy: Any = None
        self.conn: psycopg.Connection = None  # type: ignore[assignment]
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
            try:
                self.fairy = self.store.engine.raw_connection()
            except sa.exc.OperationalError as exc:
                raise StoreUnavailable(f"cannot reach PostgreSQL: {exc.orig or exc}") from exc
            except sa.exc.TimeoutError as exc:
                raise StoreUnavailable(f"no free PostgreSQL connection in the pool: {exc}") from exc
            self.conn = self.fairy.driver_connection
            self.conn.autocommit = True
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
        self.close()

    def close(self) -> None:
        fairy, self.fairy = getattr(self, "fairy", None), None
        self.conn = None  # type: ignore[assignment]
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
        if fairy is not None:
            try:
                fairy.invalidate()
            except Exception:  # noqa: BLE001
                pass

    def __del__(self) -> None:
        self.close()


def _merge_inserts(stmts: list[tuple]) -> tuple | None:
    """Several single-row INSERTs (no ON CONFLICT) as one statement of data-modifying CTEs,
    or None when they cannot be merged. Plain inserts neither read nor touch each other's
    rows, so running them in one statement (one snapshot) changes nothing but the cost."""
    if not stmts or len(stmts) > 16:
        return None
    if len(stmts) == 1:
        sql, params, many = stmts[0]
        return stmts[0] if many is None and sql.startswith("INSERT ") else None
    parts, values = [], []
    for index, (sql, params, many) in enumerate(stmts):
        if many is not None or not sql.startswith("INSERT ") or " ON CONFLICT " in sql or "%(" in sql:
            return None
        parts.append(f"w{index} AS ({sql})")
        values.extend(params)
    return ("WITH " + ", ".join(parts) + " SELECT 1", tuple(values), None)


class _Local(threading.local):
    session: _Session | None = None


class PostgresStore(Store):
    """The PostgreSQL backend (SQLAlchemy engine and pool, psycopg 3 statements)."""

    uses_redis = False

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        upgrade: bool | None = None,
        synchronous_commit: str | None = None,
        pool_size: int | None = None,
        chain_interval: float = 1.0,
    ):
        self.url = url
        self.engine, self.schema = engine_for(url, schema=schema, synchronous_commit=synchronous_commit, pool_size=pool_size)
        if upgrade is None:
            upgrade = os.environ.get("REACHGUARD_DB_AUTO_UPGRADE", "1") not in ("0", "false", "no")
        ensure_schema(self.engine, self.schema, upgrade)
        self._local = _Local()
        self._sessions: "weakref.WeakSet[_Session]" = weakref.WeakSet()
        self._chain_interval = chain_interval
        self._chainer: _Chainer | None = None
        self._hashes_on_server: bool | None = None
        self._closed = False

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
                cur = conn.execute(sql, params, prepare=params is not None)
            else:
                with conn.pipeline():
                    for sql, params, many in stmts:
                        if many is not None:
                            cur = conn.cursor()
                            cur.executemany(sql, many)
                        else:
                            cur = conn.execute(sql, params, prepare=params is not None)
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
        conn = s.attach()
        s.pinned += 1  # held while the caller works with it
        try:
            yield conn
        finally:
            s.pinned -= 1
            s.release()

    # --- reads --------------------------------------------------------------------------

    def load_state(self, query: StateQuery) -> RecipientState:
        return self.load_states([query])[0]

    def _subject_lock_keys(self, queries: Sequence[StateQuery]) -> set[tuple[int, int]]:
        return {
            (_RANK["s"], lock_key("s", q.org, q.subject))
            for q in queries
            if q.need_subject_contacts and q.subject is not None and q.purpose == "collection"
        }

    def load_states(self, queries: Sequence[StateQuery]) -> list[RecipientState]:
        if not queries:
            return []
        s = self._session()
        keys: set[tuple[int, int]] = set()
        if s.depth:
            keys = {(_RANK["n"], lock_key("n", q.org, q.number)) for q in queries} | self._subject_lock_keys(queries)
        loaded = Loaded(queries)
        loaded.add(self._state_rows(queries, lock_keys=keys))
        return loaded.finish(queries)

    def _state_rows(self, queries: Sequence[StateQuery], *, lock_keys: set | None = None,
                    contacts_for: set[tuple[str, str]] | None = None,
                    subjects_for: set[tuple[str, str]] | None = None) -> list[tuple]:
        """The rows of the one state statement. contacts_for / subjects_for: which (org, number)
        and (org, subject) need their contacts read (None: every one that has a window)."""
        if len(queries) == 1:
            q = queries[0]
            account = q.purpose == "collection" and q.subject is not None
            want_contacts = q.contacts_since != float("inf") and (contacts_for is None or (q.org, q.number) in contacts_for)
            want_subject = account and q.need_subject_contacts and (subjects_for is None or (q.org, q.subject) in subjects_for)
            sql = single_sql(want_contacts, account, want_subject)
            params = {"n": q.number, "o": q.org, "since": q.contacts_since, "s": q.subject}
            if not account:
                del params["s"]
            if not want_contacts and not want_subject:
                del params["since"]
            return self._fetch(sql, params, lock_keys=lock_keys)
        pairs = sorted({(q.number, q.org) for q in queries})
        finite = [q for q in queries if q.contacts_since != float("inf")]
        contact_pairs = sorted({(q.number, q.org) for q in finite if contacts_for is None or (q.org, q.number) in contacts_for})
        account_pairs = sorted({(q.org, q.subject) for q in queries if q.purpose == "collection" and q.subject is not None})
        subject_pairs = sorted({
            (q.org, q.subject) for q in finite
            if q.purpose == "collection" and q.subject is not None and q.need_subject_contacts
            and (subjects_for is None or (q.org, q.subject) in subjects_for)
        })
        ta = text_array
        params: dict[str, Any] = {
            "qn": ta([p[0] for p in pairs]), "qo": ta([p[1] for p in pairs]), "ns": ta(sorted({p[0] for p in pairs})),
        }
        if contact_pairs or subject_pairs:
            params["since"] = min(q.contacts_since for q in finite)
        if contact_pairs:
            params["cn"], params["co"] = ta([p[0] for p in contact_pairs]), ta([p[1] for p in contact_pairs])
        if account_pairs:
            params["ao"], params["as"] = ta([p[0] for p in account_pairs]), ta([p[1] for p in account_pairs])
        if subject_pairs and account_pairs:
            params["so"], params["ss"] = ta([p[0] for p in subject_pairs]), ta([p[1] for p in subject_pairs])
        sql = batch_sql(bool(contact_pairs), bool(account_pairs), bool(subject_pairs and account_pairs))
        return self._fetch(sql, params, lock_keys=lock_keys)

    # --- writes -------------------------------------------------------------------------

    _INSERT_CONTACT = (
        "INSERT INTO contacts(org, number, channel, purpose, relation, subject, at, attempt_id, agent, code, token) "
        "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    )

    def record_contacts(self, contacts: Sequence[NewContact]) -> None:
        if not contacts:
            return
        rows = [
            (c.org, c.number, c.channel, c.purpose, c.relation, c.subject, c.at, attempt_id, agent, code, None)
            for c, attempt_id, agent, code in contacts
        ]
        self._insert_contacts(rows)

    _INSERT_CONTACTS = (
        "INSERT INTO contacts(org, number, channel, purpose, relation, subject, at, attempt_id, agent, code, token) "
        "SELECT org, number, channel, purpose, relation, subject, at, attempt_id, agent, code, token FROM unnest("
        "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::text[], %s::text[], "
        "%s::text[], %s::text[]) WITH ORDINALITY AS t(org, number, channel, purpose, relation, subject, at, attempt_id, "
        "agent, code, token, i) ORDER BY i"
    )

    def _insert_contacts(self, rows: list[tuple]) -> None:
        if len(rows) == 1:
            self._write(self._INSERT_CONTACT, rows[0])
        else:  # one statement for the batch, its columns as array literals
            columns = list(zip(*rows))
            self._write(self._INSERT_CONTACTS, tuple(float_array(c) if i == 6 else text_array(c) for i, c in enumerate(columns)))

    def add_consent(self, org: str, number: str, channels: int, at: float, expires_at: float | None, evidence: str | None) -> None:
        self._write(
            "INSERT INTO consents(org, number, channels, at, expires_at, withdrawn, evidence) VALUES (%s,%s,%s,%s,%s,false,%s)",
            (org, number, channels, at, expires_at, evidence),
        )

    def withdraw_consent(self, org: str, number: str, channels: int, at: float) -> None:
        self._write(
            "INSERT INTO consents(org, number, channels, at, expires_at, withdrawn) VALUES (%s,%s,%s,%s,NULL,true)",
            (org, number, channels, at),
        )

    def add_opt_out(self, number: str, org: str | None, channels: int, at: float, kind: str, note: str | None) -> None:
        self._write(
            "INSERT INTO opt_outs(number, org, channels, at, kind, note) VALUES (%s,%s,%s,%s,%s,%s)",
            (number, org, channels, at, kind, note),
        )

    def set_listed(self, list_name: str, number: str, at: float, listed: bool) -> None:
        if listed:
            self._write(
                "INSERT INTO dnc(number, list, at) VALUES (%s,%s,%s) ON CONFLICT (number, list) DO UPDATE SET at = EXCLUDED.at",
                (number, list_name, at),
            )
        else:
            self._write("DELETE FROM dnc WHERE number = %s AND list = %s", (number, list_name))

    def upsert_account(self, account: AccountRecord) -> None:
        self._write(
            "INSERT INTO accounts(org, subject, borrower, days_past_due, contacts, at) VALUES (%s,%s,%s,%s,%s::jsonb,%s) "
            "ON CONFLICT (org, subject) DO UPDATE SET borrower = EXCLUDED.borrower, days_past_due = EXCLUDED.days_past_due, "
            "contacts = EXCLUDED.contacts, at = EXCLUDED.at",
            (account.org, account.subject, account.borrower, account.days_past_due,
             json.dumps(account.contacts, ensure_ascii=False, sort_keys=True), account.at),
        )

    def add_outcome(self, org: str, number: str, subject: str | None, result: str, at: float) -> None:
        self._write(
            "INSERT INTO outcomes(org, number, subject, result, at) VALUES (%s,%s,%s,%s,%s)", (org, number, subject, result, at)
        )

    def add_inbound(self, sender: str, to: str, org: str | None, text: str, at: float) -> None:
        self._write(
            "INSERT INTO inbound(sender, recipient, org, text, at) VALUES (%s,%s,%s,%s,%s)", (sender, to, org, text, at)
        )

    def get_meta(self, key: str) -> str | None:
        rows = self._fetch("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta(key, value) VALUES (%s,%s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value)
        )

    # --- ledger -------------------------------------------------------------------------

    _INSERT_PENDING = "INSERT INTO ledger_pending(org, kind, at, number, tag, body) VALUES (%s,%s,%s,%s,%s,%s)"

    def ledger_append(self, entries: Sequence[PendingEntry]) -> None:
        """Entries go to `ledger_pending` in this transaction; the chainer chains them."""
        if not entries:
            return
        rows = [(org, kind, at, number, tag, body.decode("utf-8")) for org, kind, at, number, tag, body in entries]
        if len(rows) == 1:
            self._write(self._INSERT_PENDING, rows[0])
        else:  # one statement; ids (the chain order) follow the list order
            self._write(
                "INSERT INTO ledger_pending(org, kind, at, number, tag, body) SELECT org, kind, at, number, tag, body "
                "FROM unnest(%s::text[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY "
                "AS t(org, kind, at, number, tag, body, i) ORDER BY i",
                tuple(float_array(c) if i == 2 else text_array(c) for i, c in enumerate(zip(*rows))),
            )
        if self._chain_interval and self._chainer is None:
            self._start_chainer()

    def chain_ledger(self, org: str | None = None, *, wait: bool = True) -> int:
        """Chain pending entries (of one org, or of every org that has some); how many."""
        if org is not None:
            orgs = [org]
        else:
            orgs = [row[0] for row in self._fetch("SELECT org FROM ledger_pending GROUP BY org", None)]
        return sum(self._chain_org(o, wait) for o in orgs)

    def _chain_org(self, org: str, wait: bool) -> int:
        s = self._session()
        own = s.depth == 0
        if own:
            s.depth = 1
        done = 0
        try:
            while True:
                self._prepare_tx(s)
                key = lock_key("l", org)
                if (_RANK["l"], key) not in s.held:
                    if wait:
                        s.outbox.append(("SELECT pg_advisory_xact_lock(%s::bigint)", (key,), None))
                    else:
                        got = self._send(s, s.outbox + [("SELECT pg_try_advisory_xact_lock(%s::bigint)", (key,), None)])
                        s.outbox = []
                        if not got[0][0]:
                            break  # another replica is chaining this org: end our transaction below
                    s.held.add((_RANK["l"], key))
                head_rows = self._fetch("SELECT seq, entry_hash FROM ledger WHERE org = %s ORDER BY seq DESC LIMIT 1", (org,))
                seq, prev = (head_rows[0][0], head_rows[0][1]) if head_rows else (0, GENESIS)
                # The body's SHA-256 is computed by the server (the same bytes: the database is
                # UTF-8, checked once), so bodies never travel to the chainer and back.
                hashed = self._server_hashes()
                pending = self._fetch(_PENDING_HASHED if hashed else _PENDING_BODIES, (org, _CHAIN_BATCH))
                if not pending:
                    break
                ids, seqs, body_hashes, prev_hashes, entry_hashes = [], [], [], [], []
                for pending_id, kind, at, body_hash in pending:
                    seq += 1
                    if not hashed:  # the body itself: hash it here
                        body_hash = hashlib.sha256(body_hash.encode("utf-8")).hexdigest()
                    ids.append(pending_id)
                    seqs.append(seq)
                    body_hashes.append(body_hash)
                    prev_hashes.append(prev)
                    prev = entry_hash(org, seq, kind, at, prev, body_hash)
                    entry_hashes.append(prev)
                moved = self._fetch(_MOVE_PENDING, (int_array(ids), int_array(seqs), text_array(body_hashes),
                                                    text_array(prev_hashes), text_array(entry_hashes)))
                if moved[0][0] != len(ids):  # cannot happen under the org's lock; never leave a gap
                    raise StoreUnavailable(f"ledger chaining of {org!r}: {moved[0][0]} of {len(ids)} pending entries moved")
                done += len(ids)
                if own:
                    self._commit(s)
                    s.depth = 1
                if len(pending) < _CHAIN_BATCH:
                    break
        except BaseException:
            if own:
                s.depth = 0
                self._abort(s)
                s.release()
            raise
        if own:
            s.depth = 0
            try:
                self._commit(s)
            finally:
                s.release()
        return done

    def _server_hashes(self) -> bool:
        """Whether the server can hash ledger bodies byte for byte as we do (UTF-8, sha256())."""
        if self._hashes_on_server is None:
            row = self._fetch("SELECT current_setting('server_encoding'), current_setting('server_version_num')::int", None)[0]
            self._hashes_on_server = row[0] == "UTF8" and row[1] >= 110000
        return self._hashes_on_server

    def _start_chainer(self) -> None:
        with _ENGINES_LOCK:
            if self._chainer is None and not self._closed:
                self._chainer = _Chainer(self, self._chain_interval)
                self._chainer.start()

    def ledger_entries(self, org: str, at_from: float | None = None, at_to: float | None = None) -> Iterator[LedgerEntry]:
        self.chain_ledger(org)
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE org = %s AND seq > %s"
        extra: list = []
        if at_from is not None:
            sql += " AND at >= %s"
            extra.append(at_from)
        if at_to is not None:
            sql += " AND at < %s"
            extra.append(at_to)
        sql += " ORDER BY seq LIMIT 5000"
        after = 0
        while True:
            rows = self._fetch(sql, (org, after, *extra))
            for row in rows:
                yield LedgerEntry(*row)
            if len(rows) < 5000:
                return
            after = rows[-1][1]

    def ledger_orgs(self) -> list[str]:
        self.chain_ledger()
        return [row[0] for row in self._fetch("SELECT DISTINCT org FROM ledger ORDER BY org", None)]

    # --- service (keys, checkpoints, reads) ---------------------------------------------

    _KEY_COLUMNS = "key_id, org, role, created_at, revoked_at, label"

    def add_api_key(self, key: ApiKeyRecord, key_hash: str) -> None:
        self._write(
            "INSERT INTO api_keys(key_id, key_hash, org, role, created_at, revoked_at, label) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (key.key_id, key_hash, key.org, key.role, key.created_at, key.revoked_at, key.label),
        )

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        rows = self._fetch(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE key_hash = %s", (key_hash,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_keys(self, org: str | None = None) -> list[ApiKeyRecord]:
        if org is None:
            rows = self._fetch(f"SELECT {self._KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id", None)
        else:
            rows = self._fetch(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE org = %s ORDER BY created_at, key_id", (org,))
        return [ApiKeyRecord(*row) for row in rows]

    def revoke_api_key(self, key_id: str, at: float, org: str | None = None) -> bool:
        sql = "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL"
        params: list = [at, key_id]
        if org is not None:
            sql += " AND org = %s"
            params.append(org)
        with self.transaction():
            return bool(self._fetch(sql + " RETURNING key_id", tuple(params), lock_keys=set()))

    def ledger_head(self, org: str) -> tuple[int, str] | None:
        self.chain_ledger(org)
        rows = self._fetch("SELECT seq, entry_hash FROM ledger WHERE org = %s ORDER BY seq DESC LIMIT 1", (org,))
        return (rows[0][0], rows[0][1]) if rows else None

    def ledger_range(self, org: str, seq_from: int, seq_to: int) -> Iterator[LedgerEntry]:
        self.chain_ledger(org)
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE org = %s AND seq >= %s AND seq <= %s ORDER BY seq LIMIT 5000"
        start = seq_from
        while start <= seq_to:
            rows = self._fetch(sql, (org, start, seq_to))
            for row in rows:
                yield LedgerEntry(*row)
            if len(rows) < 5000:
                return
            start = rows[-1][1] + 1

    def ledger_seq_bounds(self, org: str, at_from: float | None, at_to: float | None) -> tuple[int, int] | None:
        self.chain_ledger(org)
        sql = "SELECT min(seq), max(seq) FROM ledger WHERE org = %s"
        params: list = [org]
        if at_from is not None:
            sql += " AND at >= %s"
            params.append(at_from)
        if at_to is not None:
            sql += " AND at < %s"
            params.append(at_to)
        row = self._fetch(sql, tuple(params))[0]
        return None if row[0] is None else (row[0], row[1])

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        c = checkpoint
        self._write(
            "INSERT INTO checkpoints(org, seq, entry_hash, signed_at, key_id, signature) VALUES (%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (org, seq) DO UPDATE SET entry_hash = EXCLUDED.entry_hash, signed_at = EXCLUDED.signed_at, "
            "key_id = EXCLUDED.key_id, signature = EXCLUDED.signature",
            (c.org, c.seq, c.entry_hash, c.signed_at, c.key_id, c.signature),
        )

    def checkpoints(self, org: str, seq_from: int | None = None, seq_to: int | None = None) -> list[Checkpoint]:
        sql = "SELECT org, seq, entry_hash, signed_at, key_id, signature FROM checkpoints WHERE org = %s"
        params: list = [org]
        if seq_from is not None:
            sql += " AND seq >= %s"
            params.append(seq_from)
        if seq_to is not None:
            sql += " AND seq <= %s"
            params.append(seq_to)
        return [Checkpoint(*row) for row in self._fetch(sql + " ORDER BY seq", tuple(params))]

    def number_history(self, org: str, number: str, limit: int = 500) -> list[LedgerEntry]:
        self.chain_ledger(org)
        self.chain_ledger(GLOBAL_ORG)
        rows = self._fetch(
            f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE number = %s AND org IN (%s, %s) "
            "ORDER BY at DESC, org DESC, seq DESC LIMIT %s",
            (number, org, GLOBAL_ORG, limit),
        )
        return [LedgerEntry(*row) for row in reversed(rows)]

    def number_records(self, org: str, number: str) -> dict[str, list[dict]]:
        accounts = []
        for subject, borrower, dpd, contacts, at in self._fetch(
            "SELECT subject, borrower, days_past_due, contacts::text, at FROM accounts WHERE org = %s "
            "AND (borrower = %s OR jsonb_exists(contacts, %s)) ORDER BY subject",
            (org, number, number),
        ):
            designated = json.loads(contacts)
            role = "borrower" if borrower == number else "contact"
            accounts.append({"subject": subject, "role": role, "borrower": borrower, "days_past_due": dpd,
                             "authorized": designated.get(number) if role == "contact" else None, "at": at})
        records = number_records_from(lambda sql, params: self._fetch(sql.replace("?", "%s"), params),
                                      org, number, accounts)
        for consent in records["consents"]:
            consent["withdrawn"] = int(consent["withdrawn"])  # a boolean column here, an integer in SQLite
        return records

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
        self.chain_ledger(org)
        sql = f"SELECT {_LEDGER_COLUMNS} FROM ledger WHERE org = %s AND seq > %s AND kind = 'decision'"
        params: list = [org, after_seq]
        if at_from is not None:
            sql += " AND at >= %s"
            params.append(at_from)
        if at_to is not None:
            sql += " AND at < %s"
            params.append(at_to)
        if verdict is not None:
            sql += " AND tag = %s"
            params.append(verdict)
        if reason is not None:
            sql += (" AND EXISTS (SELECT 1 FROM jsonb_array_elements(body::jsonb -> 'decision' -> 'reasons') AS r "
                    "WHERE r ->> 'code' = %s)")
            params.append(reason)
        sql += " ORDER BY seq LIMIT %s"
        params.append(limit)
        return [LedgerEntry(*row) for row in self._fetch(sql, tuple(params))]

    def contact_by_code(self, code: str, number: str) -> tuple[str, float] | None:
        rows = self._fetch("SELECT org, at FROM contacts WHERE code = %s AND number = %s ORDER BY seq LIMIT 1", (code, number))
        return (rows[0][0], rows[0][1]) if rows else None

    # --- templates (content review: approval chain) -------------------------------------

    def template_add_version(self, org: str, template_id: str, text: str, author: str, at: float) -> int:
        with self.transaction():
            rows = self._fetch(
                "SELECT max(version) FROM template_versions WHERE org = %s AND template_id = %s",
                (org, template_id), lock_keys={(_RANK["t"], lock_key("t", org, template_id))},
            )
            version = (rows[0][0] or 0) + 1
            self._write(
                "INSERT INTO template_versions(org, template_id, version, text, author, at) VALUES (%s,%s,%s,%s,%s,%s)",
                (org, template_id, version, text, author, at),
            )
        return version

    def template_version(self, org: str, template_id: str, version: int | None = None) -> tuple | None:
        sql = "SELECT org, template_id, version, text, author, at FROM template_versions WHERE org = %s AND template_id = %s"
        params: tuple = (org, template_id)
        if version is not None:
            sql, params = sql + " AND version = %s", (org, template_id, version)
        rows = self._fetch(sql + " ORDER BY version DESC LIMIT 1", params)
        return tuple(rows[0]) if rows else None

    def template_add_review(self, org: str, template_id: str, version: int, level: int, level_name: str,
                            reviewer: str, verdict: str, comment: str, at: float) -> None:
        self._write(
            "INSERT INTO template_reviews(org, template_id, version, level, level_name, reviewer, verdict, comment, at) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (org, template_id, version, level, level_name, reviewer, verdict, comment, at),
        )

    def template_reviews(self, org: str, template_id: str, version: int) -> list[tuple]:
        return [tuple(row) for row in self._fetch(
            "SELECT level, level_name, reviewer, verdict, comment, at FROM template_reviews "
            "WHERE org = %s AND template_id = %s AND version = %s ORDER BY level", (org, template_id, version))]

    def template_ids(self, org: str) -> list[str]:
        return [row[0] for row in self._fetch(
            "SELECT DISTINCT template_id FROM template_versions WHERE org = %s ORDER BY template_id", (org,))]

    # --- complaint cases (web console) ---------------------------------------------------

    def complaint_cases_add(self, cases: Sequence[ComplaintCase]) -> None:
        rows = [(c.org, c.seq, c.number, c.at, c.text, c.status) for c in cases]
        if rows:
            self._write("INSERT INTO complaint_cases(org, seq, number, at, text, status) VALUES (%s,%s,%s,%s,%s,%s) "
                        "ON CONFLICT (org, seq) DO NOTHING", many=rows)

    def complaint_cases(self, org: str, limit: int = 500) -> list[ComplaintCase]:
        rows = self._fetch("SELECT org, seq, number, at, text, status, assignee, reply, acknowledged_at, resolved_at, "
                           "updated_at FROM complaint_cases WHERE org = %s ORDER BY status = 'resolved', at, seq LIMIT %s",
                           (org, limit))
        return [ComplaintCase(*row) for row in rows]

    def complaint_case_update(self, org: str, seq: int, status: str, assignee: str | None, reply: str | None,
                              at: float) -> bool:
        with self.transaction():
            rows = self._fetch(
                "UPDATE complaint_cases SET status = %(status)s, assignee = %(assignee)s, reply = %(reply)s, updated_at = %(at)s, "
                "acknowledged_at = COALESCE(acknowledged_at, CASE WHEN %(status)s IN ('acknowledged', 'resolved') THEN %(at)s END), "
                "resolved_at = CASE WHEN %(status)s = 'resolved' THEN COALESCE(resolved_at, %(at)s) END "
                "WHERE org = %(org)s AND seq = %(seq)s RETURNING seq",
                {"status": status, "assignee": assignee, "reply": reply, "at": at, "org": org, "seq": seq})
        return bool(rows)

    # --- reputation (reports, appeals, sender numbers) ----------------------------------
    # Report ingest runs under one advisory lock (reputation/ingest.py), so aggregates and
    # reporter rows are read and replaced by one writer at a time.

    _REPORTS_LOCK = (_RANK["n"], lock_key("n", "*reputation*", "reports"))

    def report_aggregates(self, numbers: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        # Inside a transaction (ingest) this read first takes the reports' advisory lock, on
        # both PostgreSQL backends (the Redis one locks recipients in Redis, not this).
        rows = self._fetch("SELECT number, votes, reports FROM report_aggregates WHERE number = ANY(%s)", (list(numbers),),
                           lock_keys={self._REPORTS_LOCK})
        return {row[0]: (bytes(row[1]), row[2]) for row in rows}

    def reporters(self, hashes: Sequence[bytes]) -> dict[bytes, ReporterRow]:
        rows = self._fetch(
            "SELECT hash, first_at, last_at, reports, burst, burst_at, peak, agree, disagree FROM reporters "
            "WHERE hash = ANY(%s)", (list(hashes),))
        return {bytes(row[0]): (bytes(row[0]), *row[1:]) for row in rows}  # type: ignore[misc]

    def save_reports(self, reports: Sequence[ReportRow], aggregates: Sequence[AggregateRow],
                     reporters: Sequence[ReporterRow]) -> None:
        with self.transaction():
            if reports:
                self._write("INSERT INTO reports(number, label, reporter, at, text) VALUES (%s,%s,%s,%s,%s)", many=list(reports))
            if aggregates:
                self._write("INSERT INTO report_aggregates(number, votes, reports) VALUES (%s,%s,%s) ON CONFLICT (number) "
                            "DO UPDATE SET votes = EXCLUDED.votes, reports = EXCLUDED.reports", many=list(aggregates))
            if reporters:
                self._write(
                    "INSERT INTO reporters(hash, first_at, last_at, reports, burst, burst_at, peak, agree, disagree) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (hash) DO UPDATE SET first_at = EXCLUDED.first_at, "
                    "last_at = EXCLUDED.last_at, reports = EXCLUDED.reports, burst = EXCLUDED.burst, "
                    "burst_at = EXCLUDED.burst_at, peak = EXCLUDED.peak, agree = EXCLUDED.agree, disagree = EXCLUDED.disagree",
                    many=list(reporters))

    def report_log(self, after: int, limit: int) -> list[tuple[int, ReportRow]]:
        rows = self._fetch("SELECT seq, number, label, reporter, at, text FROM reports WHERE seq > %s ORDER BY seq LIMIT %s",
                           (after, limit))
        return [(row[0], (row[1], row[2], bytes(row[3]), row[4], row[5])) for row in rows]

    def clear_report_aggregates(self) -> None:
        with self.transaction():
            self._fetch("SELECT 1", None, lock_keys={self._REPORTS_LOCK})
            self._write("DELETE FROM report_aggregates")
            self._write("DELETE FROM reporters")

    def add_appeal(self, number: str, org: str, label: str | None, reason: str, at: float) -> int:
        with self.transaction():
            rows = self._fetch("INSERT INTO appeals(number, org, label, reason, at) VALUES (%s,%s,%s,%s,%s) RETURNING id",
                               (number, org, label, reason, at))
        return int(rows[0][0])

    def appeals(self, number: str) -> list[AppealRow]:
        return [tuple(row) for row in self._fetch(  # type: ignore[misc]
            "SELECT id, number, org, label, reason, at FROM appeals WHERE number = %s ORDER BY id", (number,))]

    def set_sender_number(self, number: str, org: str, at: float, registered: bool = True) -> None:
        if registered:
            self._write("INSERT INTO sender_numbers(number, org, at) VALUES (%s,%s,%s) ON CONFLICT (number) "
                        "DO UPDATE SET org = EXCLUDED.org, at = EXCLUDED.at", (number, org, at))
        else:
            self._write("DELETE FROM sender_numbers WHERE number = %s AND org = %s", (number, org))

    def sender_number_org(self, number: str) -> str | None:
        rows = self._fetch("SELECT org FROM sender_numbers WHERE number = %s", (number,))
        return rows[0][0] if rows else None

    def sender_numbers(self, org: str) -> list[tuple[str, float]]:
        return [tuple(row) for row in self._fetch(  # type: ignore[misc]
            "SELECT number, at FROM sender_numbers WHERE org = %s ORDER BY number", (org,))]

    def org_traffic(self, org: str, since: float) -> tuple[int, int, int, int, int]:
        row = self._fetch(
            "SELECT (SELECT count(*) FROM contacts WHERE org = %(o)s AND at >= %(s)s), "
            "(SELECT count(*) FROM opt_outs WHERE org = %(o)s AND kind = 'complaint' AND at >= %(s)s), "
            "(SELECT count(*) FROM opt_outs WHERE org = %(o)s AND kind = 'opt_out' AND at >= %(s)s), "
            "(SELECT count(*) FROM (SELECT tag FROM ledger WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s "
            " UNION ALL SELECT tag FROM ledger_pending WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s) d), "
            "(SELECT count(*) FROM (SELECT tag FROM ledger WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s "
            " UNION ALL SELECT tag FROM ledger_pending WHERE org = %(o)s AND kind = 'decision' AND at >= %(s)s) d "
            " WHERE tag = 'deny')", {"o": org, "s": since})[0]
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))

    # --- life cycle ---------------------------------------------------------------------

    def close(self) -> None:
        self._closed = True
        chainer, self._chainer = self._chainer, None
        if chainer is not None:
            chainer.stop()
            if chainer is not threading.current_thread():
                chainer.join(5)
        for s in list(self._sessions):
            s.close()
        self._local = _Local()


class _Chainer(threading.Thread):
    """Chains pending ledger entries every few seconds (skips orgs another replica holds)."""

    def __init__(self, store: PostgresStore, interval: float):
        super().__init__(name="reachguard-ledger-chainer", daemon=True)
        self._store = weakref.ref(store)
        self._interval = interval
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            store = self._store()
            if store is None or store._closed:
                return
            try:
                store.chain_ledger(wait=False)
            except Exception:  # noqa: BLE001 - retried at the next tick; readers chain anyway
                pass
            finally:
                del store


def truncate_all(store: PostgresStore) -> None:
    """Empty every table but the migration history (tests)."""
    with store.read() as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        )]
        conn.execute("; ".join(f'DELETE FROM "{t}"' for t in tables))


def wait_chained(store: PostgresStore) -> None:
    store.chain_ledger()


__all__ = ["PostgresStore", "engine_for", "head_revision", "current_revision", "upgrade", "lock_key", "is_postgres_url"]
