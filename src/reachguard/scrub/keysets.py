"""Sorted integer key sets: the first row of each key, and where other keys fall among them.

Why numpy and sorting instead of DuckDB's GROUP BY and hash joins: on a 10M-row list the
dedup `GROUP BY key` cost ~3 s of CPU and the four hash joins of the features ~5 s (each probe
of 9.5M keys into a 5M-key table is a cache miss per row; EXPLAIN ANALYZE in docs/scrub.md).
Sorted once, the same answers are a vectorised sort (AVX-512 where the CPU has it) and binary
searches of each store set's keys in the sorted list keys: ~2 s of CPU for dedup and every join
together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Kept:
    """The first row of each key: `key` ascending and unique, `rid` the first row holding it."""

    key: np.ndarray  # int64
    rid: np.ndarray  # int64, aligned with key

    def __len__(self) -> int:
        return len(self.key)


def first_rows(key: np.ndarray, rid: np.ndarray) -> Kept:
    """The first (lowest) rid of each distinct key among the (key, rid) pairs given.

    Both arrays are used as working space (the caller's copies are overwritten): on a freshly
    booted VM each new 80 MB array costs more in page faults than the sort itself."""
    key = np.asarray(key, dtype=np.int64)
    rid = np.asarray(rid, dtype=np.int64)
    if len(key) == 0:
        return sorted_first_rows(key, rid)
    if not (key.flags.writeable and rid.flags.writeable):  # e.g. zero-copy views of Arrow buffers
        key, rid = key.copy(), rid.copy()
    low = int(key.min())
    bits = packing(low, int(key.max()), int(rid.min()), int(rid.max()))
    if bits is None:
        return sorted_first_rows(key, rid)
    packed = key
    packed -= low
    packed <<= bits
    packed |= rid
    return first_rows_packed(packed, low, bits, spare=rid)


def packing(low: int, high: int, lowest_rid: int, highest_rid: int) -> int | None:
    """The bits a rid takes when (key - low) << bits | rid packs a pair into one int64, or None
    when the key span and the rids do not fit in 63 bits (then: sorted_first_rows)."""
    if lowest_rid < 0:
        return None
    bits = max(1, highest_rid.bit_length())
    return bits if high - low < 1 << (63 - bits) else None


def first_rows_packed(packed: np.ndarray, low: int, bits: int, spare: np.ndarray | None = None) -> Kept:
    """first_rows of pairs already packed (see `packing`), sorted as plain integers: several
    times faster than an argsort. `packed` is sorted in place; `spare` (same length, if given)
    is overwritten instead of allocating a new array."""
    packed.sort()
    keys = np.right_shift(packed, bits, out=spare if spare is not None else None)
    keys += low
    first = _starts(keys)
    found = packed[first]
    found &= (1 << bits) - 1
    return Kept(keys[first], found)


def sorted_first_rows(key: np.ndarray, rid: np.ndarray) -> Kept:
    """The general case: an argsort of the keys, then the lowest rid within each run."""
    if len(key) == 0:
        return Kept(np.empty(0, np.int64), np.empty(0, np.int64))
    order = np.argsort(key)
    keys = key[order]
    starts = np.flatnonzero(_starts(keys))
    return Kept(keys[starts], np.minimum.reduceat(rid[order], starts))


def _starts(sorted_keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys begins."""
    starts = np.empty(len(sorted_keys), dtype=bool)
    if len(sorted_keys):
        starts[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    return starts


def locate(kept: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of `keys` sits in the sorted unique `kept`: (positions in `kept` of the keys
    found, mask over `keys` of those found). Any order and repeats in `keys` are fine."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(kept) == 0 or len(keys) == 0:
        return np.empty(0, np.int64), np.zeros(len(keys), dtype=bool)
    at = np.searchsorted(kept, keys)
    np.minimum(at, len(kept) - 1, out=at)
    found = kept.take(at) == keys
    return at[found], found
