"""Atomicity across processes on the production backends: PostgreSQL, and PostgreSQL + Redis.

Bounded: 4 processes x 8 threads decide 1,280 attempts (singles and batches of 4) on the same
12 numbers x 2 orgs at the same instant; no cap is ever exceeded, every allowed attempt is
recorded exactly once, and each org's ledger is one verifiable chain holding every decision.
"""

from __future__ import annotations

import collections
import multiprocessing
import threading

import pytest

from reachguard.engine import Gateway
from reachguard.ledger.verify import verify_chain
from store_worker import ORGS, hammer, seed

PROCESSES, THREADS, PER_THREAD, NUMBERS = 4, 8, 40, 12
CAPS = {"collection": 6, "marketing": 1}  # cn profile: calls per day; marketing contacts per day


@pytest.fixture(params=["postgres", "postgres+redis"])
def shared(request: pytest.FixtureRequest, new_store, redis_url: str):
    store = new_store(request.param)
    prefix = getattr(getattr(store, "counters", None), "prefix", "")
    return request.param, store, prefix, redis_url


def _check(store, verdicts: list[tuple[str, str, str, str]]) -> None:
    asked = collections.Counter((o, n, p) for o, n, p, _ in verdicts)
    allowed = collections.Counter((o, n, p) for o, n, p, v in verdicts if v == "allow")
    for key, count in asked.items():
        assert allowed[key] == min(count, CAPS[key[2]]), key
    assert {v for *_, v in verdicts} <= {"allow", "defer"}
    with store.read() as conn:
        rows = conn.execute("SELECT org, number, purpose, count(*) FROM contacts GROUP BY 1, 2, 3").fetchall()
    assert {(o, n, p): c for o, n, p, c in rows} == dict(allowed)
    for org in ORGS:
        entries = list(store.ledger_entries(org))
        checked, broken = verify_chain(entries)
        assert broken is None
        assert sum(1 for e in entries if e.kind == "decision") == sum(1 for o, *_ in verdicts if o == org)


@pytest.mark.slow
def test_four_processes_never_exceed_a_cap(shared, pg_url: str) -> None:
    backend, store, prefix, redis_url = shared
    seed(store, NUMBERS)
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(
            hammer, [(backend, pg_url, redis_url, prefix, w, THREADS, PER_THREAD, NUMBERS) for w in range(PROCESSES)]
        )
    verdicts = [v for chunk in results for v in chunk]
    assert len(verdicts) == PROCESSES * THREADS * PER_THREAD
    _check(store, verdicts)


def test_sixteen_threads_on_one_store_never_exceed_a_cap(shared, pg_url: str) -> None:
    backend, store, prefix, redis_url = shared
    seed(store, 4)
    verdicts = hammer(backend, pg_url, redis_url, prefix, 0, 16, 12, 4)
    _check(store, verdicts)
