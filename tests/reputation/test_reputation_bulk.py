"""Bulk ingest (append to the log, fold later in large chunks) gives exactly the lookups of
per-report ingest, on a randomised stream; lookups lag only until the fold, which is bounded.

The streams mix every piece of state ingest keeps: bursts (one reporter, a report a minute),
reporters who always disagree with the crowd, repeated reporters changing their label, late
(out-of-order) reports, hot numbers reported many times inside one chunk, several written forms
of one number, and an SMS port. Lookups are compared whole (every float), and so are the raw rows."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from reachguard import reputation
from reachguard.model import REPORT_LABELS, Report
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.ingest import PENDING, pending_after
from reachguard.reputation import keying as reputation_keying
from reachguard.reputation.keying import reporter_hash, reporter_key
from reachguard.reputation.ports import reportable
from reachguard.store import SQLiteStore

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
KEY = b"b" * 32
# small consensus thresholds so agreement and disagreement both happen in a short stream
POLICY = ReputationPolicy(consensus_min_reporters=2, consensus_share=0.5, burst_allowance=4)


def random_stream(count: int, seed: int) -> list[Report]:
    rng = random.Random(seed)
    numbers = [f"+86138{n:08d}" for n in rng.sample(range(10**8), 30)] + ["10690000123"]
    hot = numbers[:3]
    written = {numbers[0]: [numbers[0], numbers[0][3:6] + " " + numbers[0][6:10] + " " + numbers[0][10:]]}
    out, clock, burst = [], T0, 0
    for i in range(count):
        if burst == 0 and rng.random() < 0.02:
            burst = rng.randrange(6, 16)  # a burst reporter: a report a minute, for a while
        clock += timedelta(minutes=1 if burst else rng.choice([1, 5, 30, 240]))
        at = clock
        roll = rng.random()
        if burst:
            burst -= 1
            reporter = f"burst{i // 500}"
        elif roll < 0.1:  # a contrarian: always the label the crowd does not use
            reporter = f"contra{rng.randrange(3)}"
        else:  # a small pool, so reporters repeat on the same numbers and change their mind
            reporter = f"r{rng.randrange(25)}"
        if rng.random() < 0.15:  # a late report, filed with an earlier time
            at = clock - timedelta(hours=rng.choice([2, 30, 200]))
        number = rng.choice(hot) if rng.random() < 0.35 else rng.choice(numbers)
        number = rng.choice(written.get(number, [number]))
        if reporter.startswith("contra"):
            label = "other"
        else:
            label = "fraud" if rng.random() < 0.6 else rng.choice(REPORT_LABELS)
        out.append(Report(to=number, label=label, reporter=reporter, at=at))
    return out


def snapshot(store, reports: list[Report]) -> tuple:
    """Every lookup at three times, plus the raw aggregate and reporter rows."""
    numbers = sorted({reportable(r.to) for r in reports})
    hashes = sorted({reporter_hash(KEY, r.reporter) for r in reports})
    end = max(r.at for r in reports)
    when = [T0 + timedelta(days=1), end, end + timedelta(days=120)]
    lookups = [reputation.lookup(store, n, t, policy=POLICY).to_builtins() for n in numbers for t in when]
    aggregates = {n: (bytes(b), c) for n, (b, c) in store.report_aggregates(numbers).items()}
    return lookups, aggregates, {h: tuple(r) for h, r in store.reporters(hashes).items()}


def per_report(tmp_path, reports: list[Report], name: str = "single") -> tuple:
    """The reference: every report ingested alone."""
    single = SQLiteStore(str(tmp_path / f"{name}.db"))
    try:
        for r in reports:
            reputation.record_reports(single, [r], policy=POLICY, key=KEY)
        return snapshot(single, reports)
    finally:
        single.close()


def chunks(reports: list[Report], rng: random.Random) -> list[list[Report]]:
    out, i = [], 0
    while i < len(reports):
        size = rng.choice([1, 3, 17, 60, 150])
        out.append(reports[i:i + size])
        i += size
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_ingest_gives_the_lookups_of_per_report_ingest(tmp_path, seed: int) -> None:
    reports = random_stream(700, seed)
    expected = per_report(tmp_path, reports)
    rows = expected[2].values()  # the stream really exercised the damping
    assert any(r[7] for r in rows) and any(r[8] for r in rows) and max(r[6] for r in rows) > POLICY.burst_allowance
    rng = random.Random(seed)
    for fold_every in (1, 97, 400, 10_000):
        store = SQLiteStore(str(tmp_path / f"bulk{fold_every}.db"))
        try:
            with reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=fold_every) as bulk:
                for part in chunks(reports, rng):
                    assert bulk.add(part) == len(part)
            assert pending_after(store) is None
            assert snapshot(store, reports) == expected, f"fold_every={fold_every}"
        finally:
            store.close()


def test_bulk_ingest_on_every_backend(store, tmp_path) -> None:
    reports = random_stream(300, seed=9)
    expected = per_report(tmp_path, reports)
    reporter_key(store, KEY)
    with reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=120) as bulk:
        for part in chunks(reports, random.Random(9)):
            bulk.add(part)
    assert snapshot(store, reports) == expected
    assert reputation.rebuild(store, POLICY) == 300  # the log holds each report once
    assert snapshot(store, reports) == expected


def test_lookups_lag_until_the_fold_and_no_longer(tmp_path) -> None:
    reports = random_stream(200, seed=4)
    store = SQLiteStore(str(tmp_path / "lag.db"))
    try:
        reputation.record_reports(store, reports[:50], policy=POLICY, key=KEY)
        before = snapshot(store, reports)
        bulk = reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=100)
        bulk.add(reports[50:120])  # 70 pending: under fold_every, not folded yet
        assert pending_after(store) == 50 and bulk.pending == 70
        assert snapshot(store, reports) == before  # lookups lag ...
        bulk.add(reports[120:180])  # 130 pending: folded
        assert pending_after(store) is None and bulk.pending == 0
        assert snapshot(store, reports[:180]) == per_report(tmp_path, reports[:180], "first180")
        bulk.add(reports[180:])
        bulk.close()  # ... and not after the close
        assert snapshot(store, reports) == per_report(tmp_path, reports)
    finally:
        store.close()


def test_reports_left_pending_by_a_dead_bulk_are_folded_first(tmp_path) -> None:
    reports = random_stream(240, seed=6)
    expected = per_report(tmp_path, reports)
    path = str(tmp_path / "crash.db")
    store = SQLiteStore(path)
    bulk = reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=10_000)
    bulk.add(reports[:200])  # the process dies here: never folded
    store.close()
    store = SQLiteStore(path)
    try:
        assert store.get_meta(PENDING) == "0"
        reputation.record_reports(store, reports[200:], policy=POLICY, key=KEY)  # folds the 200 first, in log order
        assert pending_after(store) is None
        assert snapshot(store, reports) == expected
    finally:
        store.close()


def test_fold_and_rebuild_clear_the_pending_mark(tmp_path) -> None:
    reports = random_stream(120, seed=8)
    expected = per_report(tmp_path, reports)
    store = SQLiteStore(str(tmp_path / "f.db"))
    try:
        bulk = reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=10_000)
        bulk.add(reports[:60])
        assert reputation.fold(store, POLICY) == 60 and reputation.fold(store, POLICY) == 0
        bulk.add(reports[60:])
        assert reputation.rebuild(store, POLICY) == 120
        assert pending_after(store) is None and reputation.fold(store, POLICY) == 0
        assert snapshot(store, reports) == expected
    finally:
        store.close()


def test_bulk_ingest_refuses_a_bad_fold_size_and_stores_nothing_for_a_bad_number(tmp_path) -> None:
    store = SQLiteStore(str(tmp_path / "bad.db"))
    try:
        with pytest.raises(ValueError):
            reputation.BulkIngest(store, fold_every=0)
        good = Report(to="13800138000", label="fraud", reporter="u1", at=T0)
        bad = Report(to="12345", label="fraud", reporter="u2", at=T0)
        with pytest.raises(reputation.InvalidNumber):
            with reputation.BulkIngest(store, key=KEY) as bulk:
                bulk.add([good, bad])
        assert store.last_report_seq() == 0 and pending_after(store) is None
    finally:
        store.close()


def test_interleaved_writers_fold_in_log_order(tmp_path) -> None:
    """Two bulk ingests and a plain record_reports on one store: each fold covers the log after
    the mark in seq order, whether it comes from memory (one writer) or from the log (several)."""
    reports = random_stream(400, seed=12)
    expected = per_report(tmp_path, reports)
    store = SQLiteStore(str(tmp_path / "mixed.db"))
    try:
        first = reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=10_000)
        second = reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=10_000)
        first.add(reports[:100])
        second.add(reports[100:150])  # pending: first's rows, then second's
        first.add(reports[150:200])
        assert first.fold() == 200 and second.fold() == 0  # first holds 150 of them in memory: read the log
        first.add(reports[200:260])
        reputation.record_reports(store, reports[260:300], policy=POLICY, key=KEY)  # folds first's 60 first
        first.add(reports[300:400])  # a new mark: only these rows are pending
        assert first.fold() == 100
        assert snapshot(store, reports) == expected
    finally:
        store.close()


@pytest.mark.parametrize("size", [16, 32, 63, 64, 65, 200])
def test_the_prepared_hasher_gives_reporter_hash(size: int) -> None:
    rng = random.Random(size)
    key = bytes(rng.randrange(256) for _ in range(size))
    digest = reputation_keying.reporter_hasher(key)
    ids = ["u1", "", "13800138000", "用户-42", "\ud800lone", "x" * 300] + [f"r{rng.randrange(10**9)}" for _ in range(200)]
    assert [digest(i) for i in ids] == [reporter_hash(key, i) for i in ids]


def test_a_fold_commits_page_by_page_and_a_failure_keeps_the_pages_done(tmp_path, monkeypatch) -> None:
    """One report after a large backlog must not hold the write lock for all of it: the fold
    commits a page at a time. A fold that fails midway keeps its finished pages, leaves the
    rest pending, and the next ingest ends exactly where per-report ingest does."""
    from reachguard.reputation import ingest as ingest_module

    reports = random_stream(260, seed=11)
    expected = per_report(tmp_path, reports)
    store = SQLiteStore(str(tmp_path / "paged.db"))
    try:
        bulk = reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=10_000)
        bulk.add(reports[:250])  # a backlog left by a bulk load that never folded
        real_ingest, pages = ingest_module.ingest_rows, []

        def failing_third_page(store_, rows, policy, append=True):
            pages.append(len(rows))
            if len(pages) == 3:
                raise RuntimeError("disk full")
            return real_ingest(store_, rows, policy, append=append)

        monkeypatch.setattr(ingest_module, "ingest_rows", failing_third_page)
        with pytest.raises(RuntimeError):
            reputation.fold(store, POLICY, chunk=100)
        assert pages == [100, 100, 50] and pending_after(store) == 200  # two pages kept
        monkeypatch.setattr(ingest_module, "ingest_rows", real_ingest)
        reputation.record_reports(store, reports[250:], policy=POLICY, key=KEY)
        assert pending_after(store) is None
        assert snapshot(store, reports) == expected
    finally:
        store.close()


def test_a_fold_computes_outside_the_write_lock(tmp_path, monkeypatch) -> None:
    """The fold's computation (most of it at scale) runs without the write lock: another writer
    on the same file — here a second store, as a second process would — goes on meanwhile. Its
    report folds the bulk's pending rows first, so the bulk's computed rows are stale: the fold
    sees the moved mark under the lock, saves nothing of them, and the end state is per-report
    ingest's exactly."""
    import threading

    from reachguard.reputation import bulk as bulk_module

    reports = random_stream(300, seed=21)
    expected = per_report(tmp_path, reports)
    path = str(tmp_path / "unlocked.db")
    store, other = SQLiteStore(path), SQLiteStore(path)
    real, finished = bulk_module.folded_page, []

    def meanwhile(store_, page, policy):
        computed = real(store_, page, policy)
        writer = threading.Thread(target=lambda: finished.append(
            reputation.record_reports(other, reports[250:], policy=POLICY, key=KEY)))
        writer.start()
        writer.join(timeout=20)  # with the write lock held here, it would wait out SQLite's busy timeout
        return computed

    try:
        bulk = reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=10_000)
        bulk.add(reports[:250])
        monkeypatch.setattr(bulk_module, "folded_page", meanwhile)
        assert bulk.fold() == 0  # the other writer folded these 250 before its own 50
        assert finished == [50]
        assert pending_after(store) is None
        assert snapshot(store, reports) == expected
    finally:
        other.close()
        store.close()


def test_a_fold_saves_what_it_computed_when_nothing_moved(tmp_path, monkeypatch) -> None:
    """Nothing in between: the rows computed outside the lock are saved as they are (computed once)."""
    from reachguard.reputation import bulk as bulk_module

    reports = random_stream(400, seed=22)
    expected = per_report(tmp_path, reports)
    store = SQLiteStore(str(tmp_path / "saved.db"))
    real, calls = bulk_module.folded_page, []

    def counted(store_, page, policy):
        calls.append(len(page))
        return real(store_, page, policy)

    try:
        monkeypatch.setattr(bulk_module, "folded_page", counted)
        with reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=150) as bulk:
            for part in chunks(reports, random.Random(22)):
                bulk.add(part)
        assert sum(calls) == 400 and len(calls) >= 2  # every report from memory, none read back from the log
        assert snapshot(store, reports) == expected
    finally:
        store.close()


def test_a_bulk_load_remembers_reporter_hashes_and_forgets_them_past_its_bound(tmp_path, monkeypatch) -> None:
    """The hashes kept across `add` calls are the keyed hashes, and dropping them (past
    HASHED_MAX) changes nothing stored."""
    from reachguard.reputation import bulk as bulk_module

    reports = random_stream(300, seed=23)
    expected = per_report(tmp_path, reports)
    for bound in (10**9, 2):
        monkeypatch.setattr(bulk_module, "HASHED_MAX", bound)
        store = SQLiteStore(str(tmp_path / f"hashed{bound}.db"))
        try:
            with reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=10_000) as bulk:
                for part in chunks(reports, random.Random(23)):
                    bulk.add(part)
                kept = dict(bulk._hashed)
            assert kept and all(h == reporter_hash(KEY, r) for r, h in kept.items())
            everyone = len({r.reporter for r in reports})
            assert len(kept) == everyone if bound > everyone else len(kept) <= 150  # at most the last add's (chunks <= 150)
            assert snapshot(store, reports) == expected
        finally:
            store.close()


def test_a_report_built_in_code_with_no_such_label_is_refused_before_the_log(tmp_path) -> None:
    """msgspec does not validate a Report built in code: a bad label used to reach the log through
    a bulk load, and then every later fold raised on it (found by a review). Now nothing is stored."""
    from reachguard.events import EventError

    store = SQLiteStore(str(tmp_path / "label.db"))
    try:
        good = Report(to="13800138000", label="fraud", reporter="u1", at=T0)
        bad = Report(to="13800138000", label="bogus", reporter="u2", at=T0)
        with pytest.raises(EventError) as refused:
            with reputation.BulkIngest(store, key=KEY) as bulk:
                bulk.add([good, bad])
        assert refused.value.code == "INVALID_FIELD" and "bogus" in refused.value.message
        with pytest.raises(EventError):
            reputation.record_reports(store, [bad], key=KEY)
        assert store.last_report_seq() == 0 and pending_after(store) is None
        reputation.record_reports(store, [good], key=KEY)  # later ingest is not blocked
        assert reputation.lookup(store, "13800138000", T0).reports == 1
    finally:
        store.close()
