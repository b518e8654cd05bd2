"""Store.decisions filters (time, verdict, reason, paging) answer the same on every backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worldkit import World


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_decision_filters(world: World, store: Any) -> None:
    world.consent()
    allowed = world.attempt("2026-11-23T10:00:00+08:00")  # consented prospect, working hours
    night = world.attempt("2026-11-23T23:30:00+08:00")  # quiet hours: deferred
    stranger = world.attempt("2026-11-24T10:00:00+08:00", to="+8613700137000")  # no consent: denied
    assert (allowed.verdict, night.verdict, stranger.verdict) == ("allow", "defer", "deny")

    def tags(**filters: Any) -> list[str | None]:
        return [entry.tag for entry in store.decisions("acme", **filters)]

    assert tags() == ["allow", "defer", "deny"]
    assert tags(verdict="deny") == ["deny"]
    assert tags(reason="QUIET_HOURS") == ["defer"]
    assert tags(reason="NO_SUCH_CODE") == []
    assert tags(at_from=_ts("2026-11-23T12:00:00+08:00")) == ["defer", "deny"]
    assert tags(at_to=_ts("2026-11-23T23:30:00+08:00")) == ["allow"]  # the end is exclusive
    first = store.decisions("acme", limit=1)
    assert [e.tag for e in first] == ["allow"]
    assert tags(after_seq=first[0].seq) == ["defer", "deny"]
    assert store.decisions("other-org") == []
