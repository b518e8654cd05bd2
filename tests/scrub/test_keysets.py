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
    keys = np.array([8613800000000, 8613800000001], dtype=np.int64)
    assert keysets._packed_first_rows(keys, np.array([0, 1], dtype=np.int64)) is not None
    wide = np.array([1, 999_999_999_999_999_999], dtype=np.int64)  # ~2^60 apart: 3 bits left for rids
    assert keysets._packed_first_rows(wide, np.array([0, 7], dtype=np.int64)) is not None
    assert keysets._packed_first_rows(wide, np.array([0, 8], dtype=np.int64)) is None
    # the rids take bits too: a span that fits with small rids does not with large ones
    span = np.array([0, 1 << 40], dtype=np.int64)
    assert keysets._packed_first_rows(span, np.array([0, 1], dtype=np.int64)) is not None
    assert keysets._packed_first_rows(span, np.array([0, (1 << 30)], dtype=np.int64)) is None


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
