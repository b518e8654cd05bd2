"""The SQLite store's per-number state: what a decision reads, and the writes it is built from.

Why a module of its own: this is the decision's hot path. `load_states` reads everything keyed
by number (consents, opt-outs, lists, contacts, outcomes) for one attempt or a whole batch in
one UNION ALL statement, then the debts' accounts, borrower outcomes and contacts;
`record_contacts` and the other writes here add the rows those statements read.
"""

from __future__ import annotations

import json
from typing import Sequence

from reachguard.state import (
    AccountRecord,
    ConsentRecord,
    ContactRecord,
    OptOutRecord,
    OutcomeRecord,
    RecipientState,
)
from reachguard.store import sqlite_snapshot
from reachguard.store.base import NewContact, StateQuery
from reachguard.store.sqlite_session import SQLiteSession
from reachguard.store.sqlite_snapshot import StateSnapshot


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


class SQLiteState(SQLiteSession):
    """Per-number state reads and writes (mixed into SQLiteStore)."""

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

    def snapshot_states(self, queries: Sequence[StateQuery]) -> StateSnapshot | None:
        """`load_states` in a read transaction of its own, outside the write lock (sqlite_snapshot.py).
        None inside a transaction: that one already holds the lock."""
        with self._lock:
            if self._depth:
                return None
            db = self._db
            db.execute("BEGIN")  # deferred: a WAL read snapshot, no lock
            try:
                generation, seq = sqlite_snapshot.marks(db)
                states = self.load_states(queries)
            finally:
                db.execute("ROLLBACK")  # read only: nothing to keep
        return sqlite_snapshot.snapshot_of(states, queries, generation, seq)

    def snapshot_holds(self, snapshot: StateSnapshot) -> bool:
        with self._lock:
            return sqlite_snapshot.holds(self._db, snapshot)

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
