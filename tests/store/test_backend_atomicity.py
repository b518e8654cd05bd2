"""Atomicity across processes on the production backends: PostgreSQL, and PostgreSQL + Redis.

Bounded: 4 processes x 8 threads decide 1,280 attempts (singles and batches of 4) on the same
12 numbers x 2 orgs at the same instant; no cap is ever exceeded, every allowed attempt is
recorded exactly once, and each org's ledger is one verifiable chain holding every decision.
"""

from __future__ import annotations

import multiprocessing

import pytest

from store_worker import check_caps_and_ledger, hammer, seed

PROCESSES, THREADS, PER_THREAD, NUMBERS = 4, 8, 40, 12


@pytest.fixture(params=["postgres", "postgres+redis"])
def shared(request: pytest.FixtureRequest, new_store, redis_url: str):
    store = new_store(request.param)
    prefix = getattr(getattr(store, "counters", None), "prefix", "")
    return request.param, store, prefix, redis_url


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
    check_caps_and_ledger(store, verdicts)


def test_sixteen_threads_on_one_store_never_exceed_a_cap(shared, pg_url: str) -> None:
    backend, store, prefix, redis_url = shared
    seed(store, 4)
    verdicts = hammer(backend, pg_url, redis_url, prefix, 0, 16, 12, 4)
    check_caps_and_ledger(store, verdicts)
