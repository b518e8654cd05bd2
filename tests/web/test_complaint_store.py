"""complaint_cases on every store that keeps them: open once, update, stamp times, org-scoped."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from reachguard.store.base import ComplaintCase


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_complaint_cases_round_trip(new_store: Callable[[str], Any], backend: str) -> None:
    store = new_store(backend)
    case = ComplaintCase("acme", 7, "+8613800138000", 100.0, "半夜打电话")
    store.complaint_cases_add([case, case])  # the same complaint twice: one case
    store.complaint_cases_add([ComplaintCase("acme", 3, None, 200.0, None)])
    assert [c.seq for c in store.complaint_cases("acme")] == [7, 3]
    assert store.complaint_cases("beta") == []
    assert store.complaint_case_update("acme", 7, "acknowledged", "bob", None, 150.0)
    assert store.complaint_case_update("acme", 7, "resolved", "bob", "已处理", 300.0)
    assert not store.complaint_case_update("beta", 7, "resolved", "x", None, 300.0)  # another org's case
    assert not store.complaint_case_update("acme", 99, "resolved", "x", None, 300.0)
    done = [c for c in store.complaint_cases("acme") if c.seq == 7][0]
    assert (done.status, done.assignee, done.reply) == ("resolved", "bob", "已处理")
    assert (done.acknowledged_at, done.resolved_at, done.updated_at) == (150.0, 300.0, 300.0)
    assert [c.seq for c in store.complaint_cases("acme")] == [3, 7]  # unresolved first
