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

The ledger (pending entries chained per org, off the decision's path): pg_ledger.py; the
background chainer and the upkeep of its queue: pg_chainer.py.
Statements and transactions: pg_session.py (a thread's connection: pg_conn.py); keys, templates, cases, reputation:
pg_records.py.

Schema: Alembic migrations in `store/migrations/` (`reachguard db upgrade`); a store opened
on a database that is behind upgrades it itself under an advisory lock unless
`upgrade=False` (or REACHGUARD_DB_AUTO_UPGRADE=0).

URL: postgresql://user@host:port/db[?schema=NAME][&synchronous_commit=off][&pool_size=N].
`schema` puts every table (and alembic_version) in that schema (created if missing).
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from typing import Any, Sequence

from reachguard.state import AccountRecord, RecipientState
from reachguard.store.base import NewContact, StateQuery, Store
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
from reachguard.store.pg_chainer import Chainer
from reachguard.store.pg_ledger import PgLedger
from reachguard.store.pg_params import float_array, text_array
from reachguard.store.pg_records import PgRecords
from reachguard.store.pg_session import _RANK, _Idle, _Local, _Session, lock_key  # noqa: F401  (re-exported)
from reachguard.store.pg_state import Loaded, batch_sql, contact_token, single_sql  # noqa: F401


class PostgresStore(PgLedger, PgRecords, Store):
    """The PostgreSQL backend (SQLAlchemy engine and pool, psycopg 3 statements)."""

    uses_redis = False
    # `reachguard serve` runs this many writer threads (URL parameter `writers`, default 1).
    # Each decision locks (advisory or Redis locks) across processes anyway, so with 2 one group
    # is judged while another commits: a gain when commits wait long (slow WAL, a busy host), a
    # loss when the CPU is the limit (the groups get smaller).
    writer_threads = 1

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
        writers = parse_url(url)[1].get("writers")  # checked there: 1 to 16
        if writers is not None:
            self.writer_threads = int(writers)
        if upgrade is None:
            upgrade = os.environ.get("REACHGUARD_DB_AUTO_UPGRADE", "1") not in ("0", "false", "no")
        ensure_schema(self.engine, self.schema, upgrade)
        self._local = _Local()
        # A few parked connections cover serve's writer threads and the chainer; stores sharing
        # one engine (same URL in one process) must leave the rest of the pool to each other.
        self._idle = _Idle(min(4, self.engine.pool.size()))  # type: ignore[attr-defined]
        self._sessions: "weakref.WeakSet[_Session]" = weakref.WeakSet()
        self._chain_interval = chain_interval
        self._chainer: Chainer | None = None
        self._closed = False

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

    def init_meta(self, key: str, value: str) -> str:
        self._write("INSERT INTO meta(key, value) VALUES (%s,%s) ON CONFLICT (key) DO NOTHING", (key, value))
        stored = self.get_meta(key)
        assert stored is not None  # meta rows are never deleted
        return stored

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
        self._idle.close()
        self._local = _Local()


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
