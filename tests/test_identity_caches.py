"""Caches keyed by an object's id() must check the object: ids are reused once objects are freed.

The bug these pin: `_cap_reach` cached (days, per-debt) by id(policy). A test (or a policy
reload) freed the cn policy and the us policy was allocated at the same address, so the us
collection decision got cn's reach, skipped loading the debt's contacts and let an eighth call
through Regulation F's seven-in-seven-days cap (seen as a rare failure on PostgreSQL).
"""

from __future__ import annotations

import time
import weakref

from reachguard import state_query
from reachguard.policy import PolicyBook
from reachguard.reputation import traffic, view
from reachguard.store import SQLiteStore


def test_cap_reach_ignores_an_entry_left_by_another_policy_at_the_same_id() -> None:
    cn = PolicyBook.profile("cn").default
    us = PolicyBook.profile("us").default
    us_reach = state_query._cap_reach(us, "collection")
    cn_reach = state_query._cap_reach(cn, "collection")
    assert us_reach[1] is True and cn_reach != us_reach  # Regulation F counts per debt
    state_query._CAP_REACH[(id(us), "collection")] = (cn, cn_reach)  # what an id reuse leaves behind
    assert state_query._cap_reach(us, "collection") == us_reach
    assert state_query._CAP_REACH[(id(us), "collection")][0] is us


def test_reputation_parameters_ignore_an_entry_left_by_another_policy() -> None:
    first = PolicyBook.profile("cn").default.reputation
    second = first.model_copy(update={"half_life_days": first.half_life_days * 2})
    view._PARAMETERS[id(second)] = (first, view.parameters(first))
    shown = {p.name: p.value for p in view.parameters(second)}
    assert shown["half_life_days"] == second.half_life_days


def test_traffic_cache_ignores_figures_of_another_store() -> None:
    traffic.clear_cache()
    old, new = SQLiteStore(":memory:"), SQLiteStore(":memory:")
    stale = (9, 9, 9, 9, 9)
    traffic._cache[(id(new), "acme", 0)] = (time.monotonic(), weakref.ref(old), stale)
    assert traffic._traffic(new, "acme", 0.0, ttl=3600) != stale
