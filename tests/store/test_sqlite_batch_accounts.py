"""SQLite load_states reads a batch's debts (accounts, borrower outcomes, debt contacts) in three
statements; each state must hold what the one-decision path reads for it."""

from __future__ import annotations

import json
import random

from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.model import Attempt
from reachguard.state import ContactRecord
from reachguard.store import SQLiteStore, StateQuery

NUMBERS = [f"+86138{i:08d}" for i in range(10)]


def _store(seed: int) -> SQLiteStore:
    rng = random.Random(seed)
    gateway = Gateway(SQLiteStore(":memory:"), secret=b"t")
    for i in range(400):
        org, to = rng.choice(("acme", "beta")), rng.choice(NUMBERS)
        at = f"2026-11-{rng.randrange(10, 20)}T{rng.randrange(8, 20):02d}:{rng.randrange(60):02d}:00+08:00"
        roll = rng.random()
        if roll < 0.2:
            event = {"type": "account", "org": org, "subject": f"L{rng.randrange(6)}", "borrower": to, "at": at,
                     "days_past_due": rng.choice((1, 5)), "contacts": [{"to": rng.choice(NUMBERS), "authorized": True}]}
        elif roll < 0.45:
            event = {"type": "outcome", "org": org, "to": to, "at": at, "subject": rng.choice((None, "L1", "L2")),
                     "result": rng.choice(("conversation", "no_answer", "wrong_number"))}
        else:
            event = {"type": "attempt", "org": org, "to": to, "at": at, "purpose": "collection",
                     "channel": rng.choice(("sms", "call")), "subject": f"L{rng.randrange(6)}", "id": str(i)}
        item = decode_event(json.dumps(event))
        if isinstance(item, Attempt):
            gateway.decide(item)
        else:
            gateway.apply(item)
    store = gateway.store
    contacts = [ContactRecord(rng.choice(("acme", "beta")), rng.choice(NUMBERS), "call", "collection", "borrower",
                              rng.choice((None, "L0", "L1", "L2", "L3")), 1_795_000_000.0 - rng.randrange(12 * 86_400))
                for _ in range(300)]
    store.record_contacts([(c, None, None, None) for c in contacts])  # more debt contacts than the rules allow
    return store  # type: ignore[return-value]


def _view(state) -> tuple:
    key = lambda r: (r.at, repr(r))  # noqa: E731  (ties in time may come in another order)
    return (state.number, state.account, sorted(state.borrower_outcomes, key=key), sorted(state.subject_contacts, key=key),
            sorted(state.contacts, key=key))


def test_a_batch_reads_each_debt_as_a_single_decision_does() -> None:
    for seed in (1, 2, 3):
        store, rng = _store(seed), random.Random(seed)
        with store.read() as db:  # debts whose window starts exactly at one of their contacts (or just after)
            edges = db.execute("SELECT org, subject, at FROM contacts WHERE subject IS NOT NULL").fetchall()
        queries = [
            StateQuery(org, rng.choice(NUMBERS), "collection", subject, at + rng.choice((0.0, 1e-6)), True)
            for org, subject, at in rng.sample(edges, 8)
        ]
        queries += [
            StateQuery(rng.choice(("acme", "beta")), rng.choice(NUMBERS), rng.choice(("collection", "collection", "marketing")),
                       rng.choice((None, "L0", "L1", "L2", "L3", "L4", "L5", "L9")),
                       1_795_000_000.0 + rng.randrange(-12, 1) * 86_400.0, rng.random() < 0.7)
            for _ in range(120)
        ]
        batched = store.load_states(queries)
        assert sum(s.account is not None for s in batched) > 10
        assert sum(bool(s.subject_contacts) for s in batched) > 5 and sum(bool(s.borrower_outcomes) for s in batched) > 5
        # The reference: three statements per debt (_account_parts), as every batch read them before.
        store._accounts_parts = lambda firsts: {key: store._account_parts(q) for key, q in firsts.items()}  # type: ignore[method-assign]
        reference = store.load_states(queries)
        del store._accounts_parts
        for q, state, expected in zip(queries, batched, reference):
            assert _view(state) == _view(expected), q
        lone = queries[0]._replace(purpose="collection", subject="L1")
        assert _view(store.load_states([lone])[0]) == _view(store.load_states([lone, lone._replace(subject="L2")])[0])


def test_the_first_query_of_a_debt_decides_its_contacts_window() -> None:
    """As before the batching: the debt's contacts come from its first query's window and flag."""
    store = _store(4)
    with store.read() as db:
        org, subject, at = db.execute("SELECT org, subject, max(at) FROM contacts WHERE subject IS NOT NULL "
                                      "GROUP BY org, subject ORDER BY count(*) DESC LIMIT 1").fetchone()
    late = StateQuery(org, NUMBERS[0], "collection", subject, at + 1, True)
    early = StateQuery(org, NUMBERS[1], "collection", subject, 0.0, True)
    other = StateQuery("acme" if org == "beta" else "beta", NUMBERS[2], "collection", "L1", 0.0, True)
    states = store.load_states([late, early, other])
    assert states[0].subject_contacts == [] and states[1].subject_contacts == []  # the first said: after the last contact
    states = store.load_states([early, late, other])
    assert states[0].subject_contacts and states[1].subject_contacts is states[0].subject_contacts
