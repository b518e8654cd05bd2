"""The one statement that loads a decision's state on PostgreSQL, and the routing of its rows.

A decision (or a batch) reads consents, opt-outs, lists, outcomes, and — as its purpose needs
— contacts, the account, the borrower's outcomes and the debt's contacts in ONE UNION ALL
statement (one round trip, prepared server-side). Every branch yields the same typed columns;
`Loaded` routes the rows to per-(org, number) RecipientStates.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Sequence

from reachguard.state import AccountRecord, ConsentRecord, ContactRecord, OptOutRecord, OutcomeRecord, RecipientState
from reachguard.store.base import StateQuery

# Columns: kind, number, org, t1..t4 (text), f1, f2 (float8), i1, i2 (bigint), b (bool).

def _cols(number: str, org: str, t: Sequence[str] = (), f: Sequence[str] = (), i: Sequence[str] = (), b: str = "NULL") -> str:
    texts = list(t) + ["NULL"] * (4 - len(t))
    floats = list(f) + ["NULL"] * (2 - len(f))
    ints = list(i) + ["NULL"] * (2 - len(i))
    return ", ".join([number, org] + texts + floats + ints + [b])


# Single decision: parameters n (number), o (org), since, s (subject).
_S_CONSENTS = "SELECT 0, " + _cols("number", "org", f=("at", "expires_at"), i=("seq", "channels"), b="withdrawn") + " FROM consents WHERE number = %(n)s AND org = %(o)s"
_S_OPT_OUTS = "SELECT 1, " + _cols("number", "org", t=("kind",), f=("at",), i=("seq", "channels")) + " FROM opt_outs WHERE number = %(n)s"
_S_DNC = "SELECT 2, " + _cols("number", "NULL", t=("list",)) + " FROM dnc WHERE number = %(n)s"
_S_CONTACTS = ("SELECT 3, " + _cols("number", "org", t=("channel", "purpose", "relation", "subject"), f=("at",), i=("seq",))
               + ", token FROM contacts WHERE number = %(n)s AND org = %(o)s AND at >= %(since)s")
_S_OUTCOMES = "SELECT 4, " + _cols("number", "org", t=("result", "subject"), f=("at",), i=("seq",)) + " FROM outcomes WHERE number = %(n)s AND org = %(o)s"
_S_ACCOUNT = ("SELECT 5, " + _cols("borrower", "org", t=("subject", "contacts::text"), f=("at",), i=("days_past_due",))
              + " FROM accounts WHERE org = %(o)s AND subject = %(s)s")
_S_BORROWER_OUTCOMES = ("SELECT 6, " + _cols("o.number", "o.org", t=("o.result", "o.subject", "a.subject"), f=("o.at",), i=("o.seq",))
                        + " FROM accounts a JOIN outcomes o ON o.number = a.borrower AND o.org = a.org"
                        " WHERE a.org = %(o)s AND a.subject = %(s)s AND a.borrower <> %(n)s")
_S_SUBJECT_CONTACTS = ("SELECT 7, " + _cols("number", "org", t=("channel", "purpose", "relation", "subject"), f=("at",), i=("seq",))
                       + ", token FROM contacts WHERE org = %(o)s AND subject = %(s)s AND at >= %(since)s")


@lru_cache(maxsize=None)
def single_sql(contacts: bool, account: bool, subject_contacts: bool) -> str:
    """The one statement that loads a decision's state (which parts: by purpose and backend)."""
    parts = [_S_CONSENTS, _S_OPT_OUTS, _S_DNC, _S_OUTCOMES]
    if contacts:
        parts.append(_S_CONTACTS)
    if account:
        parts += [_S_ACCOUNT, _S_BORROWER_OUTCOMES]
        if subject_contacts:
            parts.append(_S_SUBJECT_CONTACTS)
    return _typed(parts)


_TYPED_HEAD = (
    "SELECT NULL::int AS k, NULL::text AS number, NULL::text AS org, NULL::text AS t1, NULL::text AS t2, "
    "NULL::text AS t3, NULL::text AS t4, NULL::float8 AS f1, NULL::float8 AS f2, NULL::bigint AS i1, "
    "NULL::bigint AS i2, NULL::boolean AS b, NULL::text AS token WHERE false"
)


def _typed(parts: list[str]) -> str:
    """UNION ALL of the parts after an empty, typed branch that fixes every column's type."""
    out = [_TYPED_HEAD]
    for part in parts:
        if "token FROM" not in part:
            part = part.replace(" FROM ", ", NULL AS token FROM ", 1)
        out.append(part)
    return " UNION ALL ".join(out)


# Batches: q* arrays are (number, org) pairs, a* (org, subject) pairs, c*/sc* the subsets
# whose contacts are read; since is the smallest contacts_since of the batch. The arrays are
# passed as array literals (pg_params.text_array).
_B_CONSENTS = ("SELECT 0, " + _cols("c.number", "c.org", f=("c.at", "c.expires_at"), i=("c.seq", "c.channels"), b="c.withdrawn")
               + " FROM unnest(%(qn)s::text[], %(qo)s::text[]) AS q(n, o) JOIN consents c ON c.number = q.n AND c.org = q.o")
_B_OPT_OUTS = "SELECT 1, " + _cols("number", "org", t=("kind",), f=("at",), i=("seq", "channels")) + " FROM opt_outs WHERE number = ANY(%(ns)s::text[])"
_B_DNC = "SELECT 2, " + _cols("number", "NULL", t=("list",)) + " FROM dnc WHERE number = ANY(%(ns)s::text[])"
_B_OUTCOMES = ("SELECT 4, " + _cols("c.number", "c.org", t=("c.result", "c.subject"), f=("c.at",), i=("c.seq",))
               + " FROM unnest(%(qn)s::text[], %(qo)s::text[]) AS q(n, o) JOIN outcomes c ON c.number = q.n AND c.org = q.o")
_B_CONTACTS = ("SELECT 3, " + _cols("c.number", "c.org", t=("c.channel", "c.purpose", "c.relation", "c.subject"), f=("c.at",), i=("c.seq",))
               + ", c.token FROM unnest(%(cn)s::text[], %(co)s::text[]) AS q(n, o) JOIN contacts c"
               " ON c.number = q.n AND c.org = q.o AND c.at >= %(since)s")
_B_ACCOUNT = ("SELECT 5, " + _cols("c.borrower", "c.org", t=("c.subject", "c.contacts::text"), f=("c.at",), i=("c.days_past_due",))
              + " FROM unnest(%(ao)s::text[], %(as)s::text[]) AS q(o, s) JOIN accounts c ON c.org = q.o AND c.subject = q.s")
_B_BORROWER_OUTCOMES = ("SELECT 6, " + _cols("o.number", "o.org", t=("o.result", "o.subject", "a.subject"), f=("o.at",), i=("o.seq",))
                        + " FROM unnest(%(ao)s::text[], %(as)s::text[]) AS q(o, s)"
                        " JOIN accounts a ON a.org = q.o AND a.subject = q.s"
                        " JOIN outcomes o ON o.number = a.borrower AND o.org = a.org")
_B_SUBJECT_CONTACTS = ("SELECT 7, " + _cols("c.number", "c.org", t=("c.channel", "c.purpose", "c.relation", "c.subject"), f=("c.at",), i=("c.seq",))
                       + ", c.token FROM unnest(%(so)s::text[], %(ss)s::text[]) AS q(o, s) JOIN contacts c"
                       " ON c.org = q.o AND c.subject = q.s AND c.at >= %(since)s")


@lru_cache(maxsize=None)
def batch_sql(contacts: bool, accounts: bool, subject_contacts: bool) -> str:
    parts = [_B_CONSENTS, _B_OPT_OUTS, _B_DNC, _B_OUTCOMES]
    if contacts:
        parts.append(_B_CONTACTS)
    if accounts:
        parts += [_B_ACCOUNT, _B_BORROWER_OUTCOMES]
        if subject_contacts:
            parts.append(_B_SUBJECT_CONTACTS)
    return _typed(parts)


def contact_token(row: tuple) -> str:
    """A stored contact's token (also its member in Redis); rows loaded in bulk have none."""
    return row[12] or f"s{row[9]}"


class Loaded:
    """The rows of one state query, routed per (org, number) and per (org, subject)."""

    __slots__ = ("states", "by_number", "accounts", "borrower_outcomes", "subject_contacts", "contact_rows", "subject_rows")

    def __init__(self, queries: Sequence[StateQuery]):
        self.states: dict[tuple[str, str], RecipientState] = {}
        for q in queries:
            if (q.org, q.number) not in self.states:
                self.states[(q.org, q.number)] = RecipientState(number=q.number)
        self.by_number: dict[str, list[tuple[str, RecipientState]]] = {}
        for (org, number), state in self.states.items():
            self.by_number.setdefault(number, []).append((org, state))
        self.accounts: dict[tuple[str, str], AccountRecord] = {}
        self.borrower_outcomes: dict[tuple[str, str], list[tuple]] = {}
        self.subject_contacts: dict[tuple[str, str], list[tuple]] = {}
        self.contact_rows: dict[tuple[str, str], list[tuple]] = {}  # for hydrating Redis
        self.subject_rows: dict[tuple[str, str], list[tuple]] = {}

    def add(self, rows: Sequence[tuple]) -> None:
        by_number = self.by_number
        for row in rows:
            kind = row[0]
            if kind == 1:
                for _, state in by_number.get(row[1], ()):
                    state.opt_outs.append(OptOutRecord(row[2], row[10], row[7], row[3]))
            elif kind == 2:
                for _, state in by_number.get(row[1], ()):
                    state.lists.add(row[3])
            elif kind == 0:
                state = self.states.get((row[2], row[1]))
                if state is not None:
                    state.consents.append(ConsentRecord(row[9], row[10], row[7], row[8], row[11]))
            elif kind == 3:
                self.contact_rows.setdefault((row[2], row[1]), []).append(row)
            elif kind == 4:
                state = self.states.get((row[2], row[1]))
                if state is not None:
                    state.outcomes.append(OutcomeRecord(row[4], row[3], row[7]))
            elif kind == 5:
                self.accounts[(row[2], row[3])] = AccountRecord(row[2], row[3], row[1], row[9], json.loads(row[4]), row[7])
            elif kind == 6:
                self.borrower_outcomes.setdefault((row[2], row[5]), []).append(row)
            elif kind == 7:
                self.subject_rows.setdefault((row[2], row[6]), []).append(row)

    def finish(self, queries: Sequence[StateQuery], contacts: dict | None = None, subject_contacts: dict | None = None) -> list[RecipientState]:
        """States in query order; contacts from the rows unless given (the Redis backend)."""
        for key, state in self.states.items():
            if contacts is not None and key in contacts:
                state.contacts = contacts[key]
            else:
                rows = self.contact_rows.get(key)
                if rows:
                    rows.sort(key=lambda r: (r[7], r[9]))
                    state.contacts = [ContactRecord(r[2], r[1], r[3], r[4], r[5], r[6], r[7]) for r in rows]
            if len(state.consents) > 1:
                state.consents.sort(key=lambda c: c.seq)
            if len(state.outcomes) > 1:
                state.outcomes.sort(key=lambda o: o.at)
        parts: dict[tuple[str, str], tuple] = {}
        result = []
        for q in queries:
            state = self.states[(q.org, q.number)]
            if q.purpose == "collection" and q.subject is not None:
                key = (q.org, q.subject)
                if key not in parts:
                    account = self.accounts.get(key)
                    outcomes: list[OutcomeRecord] = []
                    if account is not None:
                        rows = sorted(self.borrower_outcomes.get(key, ()), key=lambda r: (r[7], r[9]))
                        outcomes = [OutcomeRecord(r[4], r[3], r[7]) for r in rows]
                    subject: list[ContactRecord] = []
                    if q.need_subject_contacts:
                        if subject_contacts is not None and key in subject_contacts:
                            subject = subject_contacts[key]
                        else:
                            rows = sorted(self.subject_rows.get(key, ()), key=lambda r: (r[7], r[9]))
                            subject = [ContactRecord(r[2], r[1], r[3], r[4], r[5], r[6], r[7]) for r in rows]
                    parts[key] = (account, outcomes, subject)
                account, outcomes, subject = parts[key]
                if account is not None and account.borrower == q.number:
                    outcomes = []
                state = state.with_account(account, outcomes, subject)
            result.append(state)
        return result


__all__ = ["Loaded", "batch_sql", "contact_token", "single_sql"]
