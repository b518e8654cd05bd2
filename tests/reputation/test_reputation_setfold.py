"""The set-based fold (reputation/setfold.py) gives exactly the rows of the per-report loop
(ingest._loop): every byte of every votes blob, every float of every reporter row, and so every
lookup. Compared on randomised streams (bursts, contrarians, repeated and late reporters, ties
in time, hot numbers) folded in pages of many sizes over stored state, on every backend."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest

from reachguard import reputation
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation import ingest, setfold
from reachguard.reputation.ingest import prepare
from reachguard.reputation.page import Columns, Page
from reachguard.reputation.keying import reporter_key
from reachguard.store import SQLiteStore

from test_reputation_bulk import KEY, POLICY, T0, chunks, per_report, random_stream, snapshot

LOOSE = ReputationPolicy(consensus_min_reporters=1, consensus_share=0.3, burst_allowance=2, burst_half_life_hours=0.1)


def states(rows, policy, pages):
    """Fold `rows` page by page twice — loop and set-based — carrying the stored state between
    pages as a store would; returns both final (aggregates, reporters) and each page's output."""
    outs = []
    for fold_page in (lambda page, a, r: ingest._loop(page, a, r, policy),
                      lambda page, a, r: setfold.fold(Page.of_rows(page), a, r, policy)):
        aggregates: dict = {}
        reporters: dict = {}
        pieces = []
        for start, stop in pages:
            page = rows[start:stop]
            a = {r[0]: aggregates[r[0]] for r in page if r[0] in aggregates}
            rep = {r[2]: reporters[r[2]] for r in page if r[2] in reporters}
            result = fold_page(page, a, rep)
            assert result is not None
            pieces.append(result)
            aggregates.update({n: (b, c) for n, b, c in result[0]})
            reporters.update({row[0]: row for row in result[1]})
        outs.append((aggregates, reporters, pieces))
    return outs


def tied_stream(count: int, seed: int):
    """Few numbers and reporters, many reports at the same instant, and late ones: every branch
    of the loop (replace on equal time, keep on earlier time, judge with and without own vote)."""
    rng = random.Random(seed)
    numbers = [f"+86139{n:08d}" for n in rng.sample(range(10**8), 6)]
    out = []
    for i in range(count):
        at = T0 + timedelta(minutes=rng.choice([0, 0, 1, 2, 3]) + (i // 7) * rng.choice([0, 5]))
        out.append(reputation.make_report(rng.choice(numbers), rng.choice(reputation.LABELS), f"t{rng.randrange(9)}", at))
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("policy", [POLICY, LOOSE, ReputationPolicy()])
def test_set_fold_gives_the_rows_of_the_loop(seed: int, policy: ReputationPolicy) -> None:
    reports = random_stream(900, seed) if seed % 2 else tied_stream(900, seed)
    rows = prepare(reports, KEY)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(rows)), 6))
    pages = list(zip([0] + cuts, cuts + [len(rows)]))
    (loop_aggs, loop_reps, loop_pieces), (set_aggs, set_reps, set_pieces) = states(rows, policy, pages)
    assert set_pieces == loop_pieces  # every page's rows, byte for byte, in the same order
    assert set_aggs == loop_aggs and set_reps == loop_reps
    final = list(loop_reps.values())
    assert any(r[7] for r in final) and any(r[8] for r in final)  # the stream judged reports both ways


def test_set_fold_declines_what_it_cannot_match_exactly() -> None:
    at = T0.timestamp()
    two = [("+8613800138000", "fraud", b"\x01" * 8 + b"\x02" * 8, at, None),
           ("+8613800138000", "fraud", b"\x01" * 8 + b"\x03" * 8, at, None)]  # first 8 bytes shared
    assert Page.of_rows(two) is None
    assert Page.of_rows([("+8613800138000", "fraud", b"short", at, None)]) is None
    bad = [("+8613800138000", "spam", b"\x01" * 16, at, None)]
    assert setfold.fold(Page.of_rows(bad), {}, {}, POLICY) is None  # not a label: the loop raises, as before
    with pytest.raises(KeyError):
        ingest._loop(bad, {}, {}, POLICY)
    # and the ingest falls back to the loop for such a page
    assert ingest._loop(two, {}, {}, POLICY)[1][1][3] == 1


@pytest.fixture
def set_fold_always(monkeypatch):
    monkeypatch.setattr(ingest, "SET_FOLD_MIN", 1)


@pytest.mark.parametrize("seed", [1, 2])
def test_bulk_ingest_folded_set_based_gives_the_lookups_of_per_report_ingest(tmp_path, seed: int, monkeypatch) -> None:
    reports = random_stream(600, seed)
    expected = per_report(tmp_path, reports)  # one report per call: the loop
    monkeypatch.setattr(ingest, "SET_FOLD_MIN", 1)
    rng = random.Random(seed)
    for fold_every in (1, 50, 10_000):
        store = SQLiteStore(str(tmp_path / f"set{fold_every}.db"))
        try:
            with reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=fold_every) as bulk:
                for part in chunks(reports, rng):
                    bulk.add(part)
            assert snapshot(store, reports) == expected, f"fold_every={fold_every}"
        finally:
            store.close()


def test_set_fold_on_every_backend(store, tmp_path, set_fold_always) -> None:
    reports = random_stream(300, seed=13)
    reporter_key(store, KEY)
    with reputation.BulkIngest(store, policy=POLICY, key=KEY, fold_every=70) as bulk:
        for part in chunks(reports, random.Random(13)):
            bulk.add(part)
    got = snapshot(store, reports)
    ingest.SET_FOLD_MIN = 10**9  # the reference: the loop, one report per call (monkeypatch restores)
    assert got == per_report(tmp_path, reports)


@pytest.mark.parametrize("seed", range(4))
def test_columns_filled_batch_by_batch_give_the_page_of_all_rows(seed: int) -> None:
    """A bulk ingest fills its columns an `add` at a time (ids numbered as keys first come); the
    page must be the one of all rows at once: numbers sorted, hashes in bytes order, every
    report's number, hash, label and time in log order."""
    reports = random_stream(900, seed) if seed % 2 else tied_stream(900, seed)
    rows = prepare(reports, KEY)
    columns = Columns()
    for part in chunks(rows, random.Random(seed)):
        columns.extend(part)
    columns.extend([])
    page = columns.page()
    assert page is not None and len(page) == len(rows) == len(columns)
    assert page.numbers == sorted({r[0] for r in rows}) and page.hashes == sorted({r[2] for r in rows})
    assert [page.numbers[i] for i in page.num.tolist()] == [r[0] for r in rows]
    assert [page.hashes[i] for i in page.rep.tolist()] == [r[2] for r in rows]
    assert [reputation.LABELS[i] for i in page.label.tolist()] == [r[1] for r in rows]
    assert page.at.tolist() == [r[3] for r in rows]
    assert page.words.tobytes() == b"".join(h[:8][::-1] + h[8:][::-1] for h in page.hashes)  # native-endian words
    assert Columns().page() is None


def test_stable_order_is_a_stable_argsort_on_both_paths() -> None:
    rng = random.Random(5)
    keys = np.array([rng.randrange(40) for _ in range(5_000)], np.int64)
    expected = np.argsort(keys, kind="stable")
    assert (setfold.stable_order(keys, 40) == expected).all()  # packed: 6 + 13 bits
    assert (setfold.stable_order(keys, 2**52) == expected).all()  # 53 + 13 bits do not pack: argsort
    assert setfold.stable_order(np.array([3], np.int64), 4).tolist() == [0]


@pytest.mark.parametrize("size", [5, 3_000])  # the loop's page and a set-based page
def test_ingest_reads_aggregates_and_reporters_in_key_order(tmp_path, size: int) -> None:
    """Sorted keys make the store's IN-list chunks disjoint key ranges (fewer page reads at scale)."""
    store = SQLiteStore(str(tmp_path / "order.db"))
    asked: list[list] = []
    for name in ("report_aggregates", "reporters"):
        inner = getattr(store, name)
        setattr(store, name, lambda keys, inner=inner: (asked.append(list(keys)), inner(keys))[1])
    try:
        rows = prepare(random_stream(size, 3), KEY)
        ingest.ingest_rows(store, rows, POLICY)
        got = [keys for keys in asked if keys]
        assert len(got) == 2 and all(keys == sorted(set(keys)) and len(keys) > 1 for keys in got)
    finally:
        store.close()


def test_page_hashes_are_in_bytes_order() -> None:
    """The store is read and reporter rows are written in key order: big-endian words give the
    bytes' order (a little-endian read fails here)."""
    at = T0.timestamp()
    hashes = [random.Random(i).randbytes(16) for i in range(3_000)]
    page = Page.of_rows([("+8613800138000", "fraud", h, at, None) for h in hashes])
    assert page is not None and page.hashes == sorted(hashes)
    assert [page.hashes[i] for i in page.rep.tolist()] == hashes


def test_stored_rows_of_other_reporters_are_ignored_as_the_loop_ignores_them() -> None:
    """The stored reporter rows are placed among the page's hashes by a sorted search; a row of a
    hash the page does not hold (or not 16 bytes) takes the lookup per hash, with the same rows."""
    rows = prepare(random_stream(400, 5), KEY)
    first, second = rows[:200], rows[200:]
    page = Page.of_rows(first)
    _, reporters = setfold.fold(page, {}, {}, POLICY)
    stored = {row[0]: row for row in reporters}
    later = Page.of_rows(second)
    mine = {h: stored[h] for h in later.hashes if h in stored}
    assert mine, "the stream repeats reporters across the two halves"
    expected = setfold.fold(later, {}, mine, POLICY)
    stranger = (b"\xff" * 16, 1.0, 2.0, 3, 1.0, 2.0, 1.0, 0, 0)
    odd = (b"\x00" * 5, 1.0, 2.0, 3, 1.0, 2.0, 1.0, 0, 0)
    assert setfold.fold(later, {}, {**mine, stranger[0]: stranger}, POLICY) == expected
    assert setfold.fold(later, {}, {odd[0]: odd, **mine}, POLICY) == expected
    assert expected == ingest._loop(second, {}, mine, POLICY)


def test_hashes_of_other_lengths_decline_the_page_even_when_they_add_up() -> None:
    """15 + 17 bytes join to 32: the words would be cut across two hashes (found by a review)."""
    rows = [("+8613800138000", "fraud", b"A" * 15, 1.0, None), ("+8613800138000", "fraud", b"B" * 17, 2.0, None)]
    assert Page.of_rows(rows) is None
    assert [r[0] for r in ingest._loop(rows, {}, {}, POLICY)[1]] == [b"A" * 15, b"B" * 17]
