"""Batch ingest, one-by-one ingest and a rebuild from the reports log give the same reputation.

The stream exercises every piece of state ingest keeps: reporters changing their label, late
(out-of-order) reports, a burst reporter, contrarians against a consensus, repeated numbers
inside one batch. Lookups are compared whole (every float), and so are the stored rows."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from reachguard import reputation
from reachguard.cli import app
from reachguard.model import REPORT_LABELS, Report
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.keying import reporter_hash, reporter_key
from reachguard.store import SQLiteStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
KEY = b"k" * 32
# small consensus thresholds so agreement and disagreement both happen in a short stream
POLICY = ReputationPolicy(consensus_min_reporters=2, consensus_share=0.5, burst_allowance=3)


def stream(count: int, seed: int = 5) -> list[Report]:
    rng = random.Random(seed)
    numbers = [f"+86139{n:08d}" for n in rng.sample(range(10**8), 25)]
    out = []
    for i in range(count):
        number = numbers[0] if rng.random() < 0.2 else rng.choice(numbers)  # one hot number
        if i % 97 < 12:  # a burst: one reporter, a report a minute
            reporter, at = "burst", T0 + timedelta(hours=i // 97 * 30, minutes=i % 97)
        else:
            reporter = f"r{rng.randrange(40)}"
            at = T0 + timedelta(hours=i // 3) - timedelta(hours=rng.choice([0, 0, 0, 5, 50]))  # some late ones
        label = "fraud" if reporter == "r1" else ("collection" if rng.random() < 0.7 else rng.choice(REPORT_LABELS))
        out.append(Report(to=number, label=label, reporter=reporter, at=at))
    return out


def snapshot(store, reports: list[Report]) -> tuple:
    """Every lookup at three times, plus the raw aggregate and reporter rows."""
    numbers = sorted({r.to for r in reports})
    hashes = sorted({reporter_hash(KEY, r.reporter) for r in reports})
    when = [T0 + timedelta(days=d) for d in (3, 40, 400)]
    lookups = [reputation.lookup(store, n, t, policy=POLICY).to_builtins() for n in numbers for t in when]
    aggregates = store.report_aggregates(numbers)
    rows = store.reporters(hashes)
    return lookups, {n: (bytes(b), c) for n, (b, c) in aggregates.items()}, {h: tuple(r) for h, r in rows.items()}


def test_batch_and_one_by_one_ingest_agree(tmp_path) -> None:
    reports = stream(600)
    batched, single = SQLiteStore(str(tmp_path / "b.db")), SQLiteStore(str(tmp_path / "s.db"))
    try:
        assert reputation.record_reports(batched, reports, policy=POLICY, key=KEY) == 600
        for r in reports:
            reputation.record_reports(single, [r], policy=POLICY, key=KEY)
        one = snapshot(batched, reports)
        assert one == snapshot(single, reports)
        # the stream really exercised the damping: someone agreed, someone disagreed, someone burst
        rows = one[2].values()
        assert any(r[7] for r in rows) and any(r[8] for r in rows) and max(r[6] for r in rows) > POLICY.burst_allowance
        assert any(entry["label"] is not None for entry in one[0])
    finally:
        batched.close()
        single.close()


@pytest.mark.parametrize("batch", [50_000, 7])
def test_rebuild_from_the_log_gives_the_same_lookups(store, batch: int) -> None:
    reports = stream(300, seed=11)
    reporter_key(store, KEY)
    reputation.record_reports(store, reports[:150], policy=POLICY, key=KEY)
    reputation.record_reports(store, reports[150:], policy=POLICY, key=KEY)
    before = snapshot(store, reports)
    store.clear_report_aggregates()  # lose the derived data
    assert snapshot(store, reports)[1] == {}
    assert reputation.rebuild(store, POLICY, batch=batch) == 300
    assert snapshot(store, reports) == before
    # the log was replayed, not appended to: a second rebuild still sees 300 reports
    assert reputation.rebuild(store, POLICY) == 300
    assert snapshot(store, reports) == before


def test_rebuild_refuses_a_bad_batch(tmp_path) -> None:
    store = SQLiteStore(str(tmp_path / "r.db"))
    with pytest.raises(ValueError):
        reputation.rebuild(store, POLICY, batch=0)
    store.close()


def test_rebuild_command(tmp_path) -> None:
    db = str(tmp_path / "r.db")
    runner = CliRunner()
    for reporter in ("u1", "u2", "u3"):
        result = runner.invoke(app, ["report", "--db", db, "--to", "13800138000", "--label", "fraud",
                                     "--reporter", reporter, "--at", "2026-11-01T10:00:00+08:00"])
        assert result.exit_code == 0, result.output
    args = ["lookup", "13800138000", "--db", db, "--json", "--at", "2026-11-02T10:00:00+08:00"]
    before = runner.invoke(app, args).stdout
    store = SQLiteStore(db)
    store.clear_report_aggregates()
    store.close()
    assert runner.invoke(app, args).stdout != before
    result = runner.invoke(app, ["reputation", "rebuild", "--db", db])
    assert result.exit_code == 0, result.output
    assert "rebuilt reputation from 3 reports" in result.stdout
    assert runner.invoke(app, args).stdout == before
