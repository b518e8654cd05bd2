"""keysets: the first row of each key (packed sort and argsort alike), and locating keys."""

from __future__ import annotations

import numpy as np
import pytest

from reachguard.scrub import keysets


def _reference(keys: list[int], rids: list[int]) -> dict[int, int]:
    first: dict[int, int] = {}
    for key, rid in zip(keys, rids):
        first[key] = min(rid, first.get(key, rid))
    return first


def _as_dict(kept: keysets.Kept) -> dict[int, int]:
    assert np.all(np.diff(kept.key) > 0)  # ascending and unique
    return dict(zip(kept.key.tolist(), kept.rid.tolist()))


@pytest.mark.parametrize("low,high", [
    (8613000000000, 8619999999999),        # +86 mobiles: packed
    (-50, 50),                             # negative keys (numbers without an integer key)
    (1, 999_999_999_999_999_999),          # 18 digits apart: too wide to pack, argsort
    (-5, 999_999_999_999_999_999),
])
@pytest.mark.parametrize("size", [1, 7, 5_000])
def test_first_rows_match_a_plain_loop(low: int, high: int, size: int) -> None:
    rng = np.random.default_rng(size)
    keys = rng.integers(low, high, size=size, dtype=np.int64, endpoint=True)
    keys[rng.random(size) < 0.3] = keys[0]  # plenty of repeats
    rids = rng.permutation(size * 3)[:size].astype(np.int64)  # not in order, with gaps
    want = _reference(keys.tolist(), rids.tolist())
    assert _as_dict(keysets.sorted_first_rows(keys, rids)) == want
    assert _as_dict(keysets.first_rows(keys.copy(), rids.copy())) == want  # it works in its inputs' space


def test_packing_is_taken_only_when_it_fits() -> None:
    assert keysets.packing(8613800000000, 8619999999999, 0, 10_000_000) is not None
    # ~2^60 apart: 3 bits left for rids
    assert keysets.packing(1, 999_999_999_999_999_999, 0, 7) == 3
    assert keysets.packing(1, 999_999_999_999_999_999, 0, 8) is None
    assert keysets.packing(0, 1 << 40, 0, 1 << 21) == 22
    assert keysets.packing(0, 1 << 40, 0, 1 << 22) is None
    assert keysets.packing(0, 10, -1, 5) is None  # rids are never negative; if they were, no packing


def test_packed_pairs_give_the_same_rows() -> None:
    rng = np.random.default_rng(9)
    keys = rng.integers(8613000000000, 8613000000999, size=4_000, dtype=np.int64)
    rids = rng.permutation(4_000).astype(np.int64)
    bits = keysets.packing(int(keys.min()), int(keys.max()), 0, int(rids.max()))
    assert bits is not None
    packed = ((keys - int(keys.min())) << bits) | rids
    got = keysets.first_rows_packed(packed, int(keys.min()), bits)
    assert _as_dict(got) == _reference(keys.tolist(), rids.tolist())


def test_read_only_inputs_are_copied_not_written() -> None:
    keys = np.array([5, 3, 5], dtype=np.int64)
    rids = np.array([0, 1, 2], dtype=np.int64)
    keys.flags.writeable = rids.flags.writeable = False  # as zero-copy Arrow views come
    assert _as_dict(keysets.first_rows(keys, rids)) == {3: 1, 5: 0}
    assert keys.tolist() == [5, 3, 5]


def test_packing_close_to_63_bits() -> None:
    """An 18-digit key span with as many rows as still fit: the packed path at its limit."""
    rng = np.random.default_rng(4)
    keys = np.concatenate([[1, 999_999_999_999_999_999], rng.integers(1, 999_999_999_999_999_999, size=6, dtype=np.int64)])
    keys = np.concatenate([keys, keys[:3]])
    rids = np.arange(len(keys), dtype=np.int64)  # highest rid 10: 4 bits; the span takes 60
    assert keysets.packing(int(keys.min()), int(keys.max()), 0, int(rids.max())) is None
    assert keysets.packing(int(keys.min()), int(keys.max()), 0, 7) == 3
    small = rids % 8  # rids up to 7 fit: packed, and the same rows as the loop
    assert _as_dict(keysets.first_rows(keys.copy(), small.copy())) == _reference(keys.tolist(), small.tolist())


@pytest.mark.parametrize("wide", [False, True])
def test_rows_first_rows_packs_in_duckdb_or_falls_back(wide: bool) -> None:
    """rows._first_rows: DuckDB packs (key, rid) in SQL, or, where they do not fit, numpy argsorts."""
    import duckdb

    from reachguard.scrub import rows

    rng = np.random.default_rng(2)
    high = 999_999_999_999_999_999 if wide else 8613999999999
    keys = rng.integers(-3 if not wide else 1, high, size=3_000, dtype=np.int64)
    keys[::7] = keys[1]  # repeats
    valid = rng.random(3_000) > 0.1
    con = duckdb.connect()
    con.execute("CREATE TABLE t(k BIGINT, ok BOOLEAN)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(int(k) if i % 11 else None, bool(v)) for i, (k, v) in enumerate(zip(keys, valid))])
    con.execute("CREATE VIEW rg_rows AS SELECT rowid AS rid, k AS key, ok AS field_ok FROM t")
    want = _reference([int(k) for i, (k, v) in enumerate(zip(keys, valid)) if v and i % 11],
                      [i for i, v in enumerate(valid) if v and i % 11])
    assert _as_dict(rows._first_rows(con)) == want


def test_nothing_kept_from_nothing() -> None:
    kept = keysets.first_rows(np.empty(0, np.int64), np.empty(0, np.int64))
    assert len(kept) == 0 and kept.key.dtype == np.int64


def test_locate_finds_each_key_any_order_with_repeats() -> None:
    kept = np.array([-3, 5, 8, 13], dtype=np.int64)
    at, found = keysets.locate(kept, np.array([13, 4, 5, 5, 100, -3, -4], dtype=np.int64))
    assert found.tolist() == [True, False, True, True, False, True, False]
    assert at.tolist() == [3, 1, 1, 0]


def test_locate_with_nothing_on_either_side() -> None:
    at, found = keysets.locate(np.empty(0, np.int64), np.array([1, 2], dtype=np.int64))
    assert at.tolist() == [] and found.tolist() == [False, False]
    at, found = keysets.locate(np.array([1], dtype=np.int64), np.empty(0, np.int64))
    assert at.tolist() == [] and found.tolist() == []
