"""Batch shapes around the snapshot path of `Gateway._decide_many` (store/sqlite_snapshot.py),
added by review: an empty batch, a batch of only invalid numbers (no snapshot is taken), a batch
mixing orgs, and an exception while judging from the snapshot (outside the write lock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapshotkit import AT, CONSENT, answers, event, gateway, sms
from reachguard.engine import Gateway


def _ledger_rows(g: Gateway) -> int:
    return g.store._rows("SELECT count(*) FROM ledger")[0][0]


def _spy(g: Gateway) -> dict[str, list]:
    seen: dict[str, list] = {"snapshots": [], "holds": []}
    snapshot_states, snapshot_holds = g.store.snapshot_states, g.store.snapshot_holds

    def snap(queries):
        seen["snapshots"].append(len(queries))
        return snapshot_states(queries)

    def holds(snapshot):
        seen["holds"].append(result := snapshot_holds(snapshot))
        return result

    g.store.snapshot_states, g.store.snapshot_holds = snap, holds  # type: ignore[method-assign]
    return seen


def test_an_empty_batch_answers_nothing_and_records_nothing(tmp_path: Path) -> None:
    g = gateway(tmp_path / "rg.db")
    seen = _spy(g)
    assert g.decide_many([]) == []
    assert _ledger_rows(g) == 0 and seen == {"snapshots": [], "holds": []}


def test_a_batch_of_only_invalid_numbers_is_recorded_without_a_snapshot(tmp_path: Path) -> None:
    g = gateway(tmp_path / "rg.db")
    seen = _spy(g)
    bad = [event(type="attempt", id=f"x{i}", org="acme", channel="sms", purpose="marketing", to="12345", at=AT)
           for i in range(3)]
    assert answers(g.decide_many(bad)) == [("deny", ["INVALID_NUMBER"])] * 3
    assert _ledger_rows(g) == 3 and seen["snapshots"] == []


def test_a_batch_mixing_orgs_decides_as_without_the_snapshot(tmp_path: Path) -> None:
    def batch():
        return [sms(1), event(type="attempt", id="b1", org="beta", channel="sms", purpose="marketing",
                              to=CONSENT["to"], at=AT), sms(2),
                event(type="attempt", id="x", org="beta", channel="sms", purpose="marketing", to="12345", at=AT)]

    with_snapshot, without = gateway(tmp_path / "a.db"), gateway(tmp_path / "b.db")
    without.store.snapshot_states = lambda queries: None  # type: ignore[method-assign]
    for g in (with_snapshot, without):
        g.apply(event(**CONSENT))
        g.apply(event(**{**CONSENT, "org": "beta"}))
    seen = _spy(with_snapshot)
    got = answers(with_snapshot.decide_many(batch()))
    assert seen == {"snapshots": [3], "holds": [True]}  # the snapshot path was taken
    assert got == answers(without.decide_many(batch()))
    assert got[0] == ("allow", []) and got[1] == ("allow", []) and got[3] == ("deny", ["INVALID_NUMBER"])


def test_an_exception_while_judging_the_snapshot_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = gateway(tmp_path / "rg.db")
    g.apply(event(**CONSENT))
    before = _ledger_rows(g)
    judge, calls = Gateway._judge, []

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return judge(self, *args)

    monkeypatch.setattr(Gateway, "_judge", failing)
    with pytest.raises(RuntimeError, match="boom"):
        g.decide_many([sms(1), sms(2)])
    monkeypatch.setattr(Gateway, "_judge", judge)
    assert _ledger_rows(g) == before and g.store._depth == 0
    assert g.store._rows("SELECT count(*) FROM contacts")[0][0] == 0
    assert answers(g.decide_many([sms(3)])) == [("allow", [])]  # the store is usable afterwards
