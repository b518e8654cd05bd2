"""The reputation tables on every backend (SQLite, PostgreSQL, PostgreSQL + Redis): ingest,
one vote per reporter, appeals, the sender-number registry, and an org's traffic figures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from reachguard import reputation
from worldkit import World

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
NUMBER = "+8613800138000"


def test_reports_one_vote_per_reporter_and_appeals(store) -> None:
    reputation.record_report(store, "138 0013 8000", "collection", "alice", T0, text="您的账单已逾期")
    reputation.record_report(store, NUMBER, "harassment", "alice", T0 + timedelta(hours=1))  # alice changes her mind
    reputation.record_report(store, NUMBER, "harassment", "bob", T0)
    rep = reputation.lookup(store, NUMBER, T0 + timedelta(days=1))
    assert rep.reports == 3 and rep.reporters == 2
    assert rep.label == "harassment" and [s.label for s in rep.scores] == ["harassment"]
    assert rep.owner is None and rep.appeals == []

    reputation.register_sender_number(store, NUMBER, "acme")
    with pytest.raises(reputation.OwnerError) as taken:
        reputation.register_sender_number(store, NUMBER, "xinghe")
    assert taken.value.code == "NUMBER_TAKEN"
    appeal_id = reputation.appeal(store, NUMBER, "acme", "licensed lender, calls only our borrowers", label="harassment",
                                  at=T0 + timedelta(days=2))
    rep = reputation.lookup(store, NUMBER, T0 + timedelta(days=3))
    assert rep.owner is not None and rep.owner.org == "acme" and rep.owner.verified
    assert [(a.id, a.org, a.label) for a in rep.appeals] == [(appeal_id, "acme", "harassment")]
    assert rep.reports == 3 and rep.label == "harassment"  # an appeal deletes nothing
    assert store.sender_numbers("acme")[0][0] == NUMBER


def test_org_traffic_counts(store) -> None:
    world = World(store=store)
    world.consent()
    verdicts = [world.attempt(f"2026-11-0{day}T10:00:00+08:00").verdict for day in (2, 2, 3)]
    verdicts.append(world.attempt("2026-11-04T23:30:00+08:00").verdict)  # quiet hours: deferred
    world.send(type="complaint", to=NUMBER, org="acme", at="2026-11-05T14:00:00+08:00")
    world.send(type="opt_out", to="+8613900139000", org="acme", at="2026-11-05T14:00:00+08:00")
    world.send(type="opt_out", to="+8613900139000", org="xinghe", at="2026-11-05T14:00:00+08:00")
    verdicts.append(world.attempt("2026-11-06T10:00:00+08:00").verdict)  # after the complaint: denied
    assert verdicts == ["allow", "defer", "allow", "defer", "deny"]
    since = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
    assert store.org_traffic("acme", since) == (2, 1, 1, 5, 1)
    assert store.org_traffic("acme", T0.timestamp() + 10 * 86_400) == (0, 0, 0, 0, 0)


def test_concurrent_ingest_loses_no_vote(store) -> None:
    """Threads reporting the same number at once (one session each on PostgreSQL): ingest is
    serialised by the store's reports lock, so no aggregate update is lost."""
    import threading

    reputation.reporter_key(store)  # create the secret once, before the race

    def work(t: int) -> None:
        for i in range(15):
            reputation.record_report(store, NUMBER, "fraud", f"t{t}-r{i}", T0 + timedelta(seconds=i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rep = reputation.lookup(store, NUMBER, T0 + timedelta(days=1))
    assert (rep.reporters, rep.reports) == (60, 60)
