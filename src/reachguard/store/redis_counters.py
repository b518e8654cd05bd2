"""PostgreSQL + Redis: the frequency counters (recent contacts) and their locks in Redis.

What lives where. Redis holds, per (org, number) and per (org, debt), the recent allowed
contacts as a sorted set scored by time — what the frequency caps count — and the locks
that make check-then-record atomic. Everything else (consents, opt-outs, lists, accounts,
outcomes, the ledger, keys, templates) is in PostgreSQL, and every contact is also written
there (audit, verification codes, and the source Redis is rebuilt from).

Atomicity. A decision runs two Lua scripts, each atomic in Redis:
  1. ACQUIRE: take every lock the decision needs ((org, number), and (org, debt) when a
     per-debt cap applies) — all or none, so batches cannot deadlock — and read the
     counters, in one round trip. A busy lock: back off and retry (until `lock_timeout`).
  2. FINISH: check that every lock is still ours (a lease: `lock_ttl`), append the new
     contacts, trim, release — or change nothing and fail if a lease expired, in which case
     the decision raises instead of answering. So two deciders for one number never
     interleave between reading the counters and recording the contact.
  The PostgreSQL side needs no lock: one read (the state statement), and the decision's
  writes (contact copy + ledger entry) in one short transaction after FINISH.

Cooldowns (Regulation F: none within 7 days after a conversation) are derived from
`conversation` outcomes. Those are durable facts that wrong-number and third-party rules
also read, forever, and they are read in the same PostgreSQL round trip as the rest of
the state; nothing checks-then-records them, so they stay in PostgreSQL: a Redis that
lost its data could otherwise silently lift a cooldown.

Redis losing data (restart without persistence, eviction, failover). Each sorted set
carries a horizon: a sentinel member "h:<time>" at score -inf meaning "every contact since
<time> is here". A read whose window starts before the horizon (or finds no horizon) also
reads the contacts from PostgreSQL in the same state statement, merges them (members are
identical strings, keyed by the contact's token) and writes them back in FINISH. So an
empty or evicted Redis costs one extra PostgreSQL index range per number, never a missed
contact — except a contact whose PostgreSQL copy was still in flight (< 1 ms) at the very
moment Redis lost it.

Redis down: decisions raise StoreUnavailable and record nothing (fail closed: the API
answers 503 UNAVAILABLE, `reachguard replay` stops with exit 3 after the chunks it
committed); state events, which do not touch Redis, go on. The client reconnects by itself
on the next decision once Redis answers again.

The scripts and their connection: redis_scripts.py (texts in redis_lua.py, connection in redis_wire.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Sequence

from reachguard.state import ContactRecord, RecipientState
from reachguard.store.base import NewContact, StateQuery, StoreUnavailable
from reachguard.store.postgres import Loaded, PostgresStore, _Session, contact_token
from reachguard.store.redis_scripts import RedisCounters, _pack, _Wire, split_redis_url  # noqa: F401  (re-exported)

INF = float("inf")


def member(c: ContactRecord, token: str) -> str:
    """A contact as a sorted-set member: identical for the Redis copy and the PostgreSQL row."""
    return f"{c.at!r}|{c.number}|{c.channel}|{c.purpose}|{c.relation}|{c.subject or ''}|{token}"


def parse_member(org: str, text: str) -> ContactRecord:
    parts = text.split("|")
    subject = "|".join(parts[5:-1]) or None
    return ContactRecord(org, parts[1], parts[2], parts[3], parts[4], subject, float(parts[0]))


def _row_member(row: tuple) -> tuple[str, ContactRecord]:
    c = ContactRecord(row[2], row[1], row[3], row[4], row[5], row[6], row[7])
    return member(c, contact_token(row)), c

@dataclass
class _RedisTx:
    """A transaction's Redis side: our token, the locks we hold, what FINISH will write."""

    token: str = field(default_factory=lambda: secrets.token_hex(8))
    issued: int = 0  # contact tokens handed out: token + a counter (unique, no urandom call per contact)
    wanted: set[str] = field(default_factory=set)  # lock keys from transaction(org, number)
    held: list[str] = field(default_factory=list)
    writes: dict[str, tuple[str, list[tuple[float, str]]]] = field(default_factory=dict)
    # (since, members from PostgreSQL) of the windows read but not covered: written to Redis
    # with the first contact appended to that key (a key nobody appends to stays as it is,
    # and is read from PostgreSQL again next time, in the same statement anyway)
    cold: dict[str, tuple[float, list[tuple[float, str]]]] = field(default_factory=dict)

    def contact_token(self) -> str:
        self.issued += 1
        return f"{self.token}{self.issued:x}"

    def add(self, key: str, score: float, text: str) -> None:
        cold = self.cold.pop(key, None)
        if cold is not None:
            self.hydrate(key, *cold)
        horizon, members = self.writes.get(key, ("", []))
        members.append((score, text))
        self.writes[key] = (horizon, members)

    def hydrate(self, key: str, since: float, members: list[tuple[float, str]]) -> None:
        horizon, pending = self.writes.get(key, ("", []))
        if horizon == "" or since < float(horizon):
            horizon = repr(since)
        self.writes[key] = (horizon, members + pending)


class PostgresRedisStore(PostgresStore):
    """PostgreSQL for everything, Redis for the contact counters and the recipient locks."""

    uses_redis = True

    def __init__(self, url: str, redis_url: str, *, prefix: str | None = None, retention_days: float = 40.0,
                 lock_ttl: float = 10.0, lock_timeout: float = 10.0, **kwargs: Any):
        super().__init__(url, **kwargs)
        if prefix is None and split_redis_url(redis_url)[1] is None:
            prefix = f"rg:{self.schema}:" if self.schema else "rg:"
        self.counters = RedisCounters(redis_url, prefix=prefix, retention_days=retention_days,
                                      lock_ttl=lock_ttl, lock_timeout=lock_timeout)

    # --- transactions: Redis locks instead of advisory locks ----------------------------

    def _rtx(self, s: _Session) -> _RedisTx:
        if s.extra is None:
            s.extra = _RedisTx()
        return s.extra

    def _want_lock(self, s: _Session, org: str, number: str) -> None:
        self._rtx(s).wanted.add(self.counters.lock_of(self.counters.number_key(org, number)))

    def _commit(self, s: _Session) -> None:
        tx: _RedisTx | None = s.extra
        if tx is not None and not s.aborted and tx.writes:
            # Contacts to append: FINISH (lease check, append, release) before the commit.
            try:
                self.counters.finish(tx.token, tx.held, tx.writes, unlock=True)
            except BaseException:
                self._abort(s)
                raise
        elif tx is not None and tx.held:
            # Nothing to append (no contact recorded): the locks go back while PostgreSQL
            # commits, one round trip less. They guard only the contact counters, and a
            # decision that records no contact cannot take a cap past its limit, even on a
            # read whose lease ran out (the lease check is FINISH's, for appends).
            try:
                sent = self.counters.release_send(tx.token, tx.held)
            except BaseException:
                self._abort(s)  # never leave the PostgreSQL transaction open for the next one
                raise
            try:
                super()._commit(s)
            finally:
                self.counters.release_receive(sent)
            return
        super()._commit(s)

    def _abort(self, s: _Session) -> None:
        tx: _RedisTx | None = s.extra
        if tx is not None and tx.held:
            self.counters.release(tx.token, tx.held)
        super()._abort(s)

    # --- reads --------------------------------------------------------------------------

    def load_states(self, queries: Sequence[StateQuery]) -> list[RecipientState]:
        if not queries:
            return []
        s = self._session()
        counters = self.counters
        tx = self._rtx(s) if s.depth else None
        if s.aborted:
            raise StoreUnavailable("the transaction was aborted by an earlier error")
        number_since: dict[tuple[str, str], float] = {}
        subject_since: dict[tuple[str, str], float] = {}
        for q in queries:
            key = (q.org, q.number)
            if q.contacts_since != INF:
                number_since[key] = min(number_since.get(key, INF), q.contacts_since)
                if q.need_subject_contacts and q.subject is not None and q.purpose == "collection":
                    skey = (q.org, q.subject)
                    subject_since[skey] = min(subject_since.get(skey, INF), q.contacts_since)
        reads = [(counters.number_key(*k), since) for k, since in number_since.items()]
        reads += [(counters.subject_key(*k), since) for k, since in subject_since.items()]
        locks: list[str] = []
        if tx is not None:
            wanted = set(tx.wanted)
            wanted.update(counters.lock_of(counters.number_key(q.org, q.number)) for q in queries)
            wanted.update(counters.lock_of(counters.subject_key(*k)) for k in subject_since)
            tx.wanted = set()
            held = set(tx.held)
            locks = sorted(wanted - held)
            if tx.writes and tx.held:  # a second batch in one transaction: flush the first's
                counters.finish(tx.token, tx.held, tx.writes, unlock=False)
                tx.writes = {}
            token = tx.token
        else:
            token = secrets.token_hex(8)
        # ACQUIRE and the PostgreSQL state statement overlap: ACQUIRE is sent, the statement
        # (with every window's contacts from PostgreSQL, as Redis may not cover them) runs,
        # then ACQUIRE's answer is read. Sound because FINISH appends to Redis before the
        # decision's PostgreSQL commit: a contact recorded by the previous lock holder is in
        # Redis once we hold the lock, older ones are in PostgreSQL. If the locks were busy
        # (we waited), the statement runs again, after the locks were granted.
        sent = counters.acquire_send(token, locks, reads) if (locks or reads) else None
        try:
            rows = self._state_rows(queries)
        finally:
            if sent is not None:
                found, waited = counters.acquire_receive(sent)
                if tx is not None:
                    tx.held.extend(locks)
            else:
                found, waited = [], False
        if waited:
            rows = self._state_rows(queries)

        # Which windows Redis covers; the others are read from PostgreSQL too, and merged.
        redis_contacts: dict[tuple[str, str], list[str]] = {}
        redis_subjects: dict[tuple[str, str], list[str]] = {}
        uncovered: set[tuple[str, str]] = set()
        uncovered_subjects: set[tuple[str, str]] = set()
        results = iter(found)
        for key, since in number_since.items():
            horizon, members = next(results)
            redis_contacts[key] = members
            if horizon == "" or since < float(horizon):
                uncovered.add(key)
        for key, since in subject_since.items():
            horizon, members = next(results)
            redis_subjects[key] = members
            if horizon == "" or since < float(horizon):
                uncovered_subjects.add(key)

        loaded = Loaded(queries)
        loaded.add(rows)
        contacts = {key: self._merge(key[0], key, redis_contacts[key], loaded.contact_rows.get(key, ()),
                                     key in uncovered, counters.number_key(*key), number_since[key], tx)
                    for key in number_since}
        subjects = {key: self._merge(key[0], key, redis_subjects[key], loaded.subject_rows.get(key, ()),
                                     key in uncovered_subjects, counters.subject_key(*key), subject_since[key], tx)
                    for key in subject_since}
        return loaded.finish(queries, contacts, subjects)

    @staticmethod
    def _merge(org: str, key: tuple, members: list[str], rows: Sequence[tuple], uncovered: bool, zkey: str,
               since: float, tx: _RedisTx | None) -> list[ContactRecord]:
        seen = set(members)
        records = [parse_member(org, text) for text in members]
        if uncovered:
            missing: list[tuple[float, str]] = []
            for row in rows:
                text, record = _row_member(row)
                if text not in seen:
                    seen.add(text)
                    records.append(record)
                    missing.append((record.at, text))
            if tx is not None:
                if zkey in tx.writes:
                    tx.hydrate(zkey, since, missing)
                else:
                    tx.cold[zkey] = (since, missing)
            records.sort(key=lambda c: c.at)
        return records

    # --- writes -------------------------------------------------------------------------

    def record_contacts(self, contacts: Sequence[NewContact]) -> None:
        if not contacts:
            return
        s = self._session()
        counters = self.counters
        tx = self._rtx(s) if s.depth else _RedisTx()
        rows = []
        for c, attempt_id, agent, code in contacts:
            token = tx.contact_token()
            text = member(c, token)
            tx.add(counters.number_key(c.org, c.number), c.at, text)
            if c.subject is not None:
                tx.add(counters.subject_key(c.org, c.subject), c.at, text)
            rows.append((c.org, c.number, c.channel, c.purpose, c.relation, c.subject, c.at, attempt_id, agent, code, token))
        if not s.depth:
            counters.finish(tx.token, [], tx.writes, unlock=True)
        self._insert_contacts(rows)

    def close(self) -> None:
        super().close()
        self.counters.close()


__all__ = ["PostgresRedisStore", "RedisCounters", "member", "parse_member"]
