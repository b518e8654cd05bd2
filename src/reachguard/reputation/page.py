"""A page of reports as the set fold reads it: integer columns over sorted key lists.

Why: at millions of reports every pass of Python over the rows costs ~0.2–0.5 µs per report
(each row's objects are a cache miss), and so does every lookup in a dict of millions of keys.
The set fold used to make several such passes (transposing, two sets, hashing numbers and
labels, joining hashes, reading times). `Columns` turns rows into integers once, batch by batch
while each batch is still in the cache (a bulk ingest holds 33 bytes per pending report instead
of its row tuples), and `page()` groups them by key with numpy sorts, once per fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Sequence

import numpy as np

from reachguard.reputation import numcodes
from reachguard.reputation.keying import HASH_BYTES as HASH
from reachguard.reputation.votes import LABEL_INDEX

ODD = 2 * numcodes.TOP


@dataclass(frozen=True)
class Page:
    """Reports in log order: `num[i]` indexes `numbers` (sorted), `rep[i]` indexes `hashes`
    (in bytes order), `label[i]` is LABEL_INDEX or -1 for a name that is not a label."""

    numbers: list[str]
    hashes: list[bytes]
    words: np.ndarray  # (len(hashes), 2) uint64: each hash as two big-endian words, in `hashes` order
    num: np.ndarray
    rep: np.ndarray
    label: np.ndarray
    at: np.ndarray

    def __len__(self) -> int:
        return len(self.num)

    @classmethod
    def of_rows(cls, rows: Sequence[tuple]) -> "Page | None":
        """The page of prepared rows (number, label, hash, at, …), or None (see `Columns.page`)."""
        columns = Columns()
        columns.extend(rows)
        return columns.page()


class Columns:
    """Prepared rows accumulated as integer columns, batch by batch: each number as its code
    (numcodes.py), each reporter hash as two 64-bit words, each label as its index."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []  # per batch: codes, hash words (2), labels, times
        self._odd: dict[str, int] = {}  # numbers without a code (none in practice), numbered past every code
        self._exact = True  # every hash 16 bytes
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def extend(self, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        numbers, labels, hashes, ats = list(zip(*rows))[:4]
        n = len(rows)
        codes = numcodes.encode(numbers)
        odd = np.nonzero(codes < 0)[0]
        if len(odd):
            table = self._odd
            codes[odd] = [ODD + table.setdefault(numbers[i], len(table)) for i in odd.tolist()]
        joined = b"".join(hashes)
        if set(map(len, hashes)) != {HASH}:  # (15 + 17 bytes would join to 32 and cut the words wrongly)
            self._exact, joined = False, bytes(HASH * n)
        words = np.frombuffer(joined, dtype=">u8").astype(np.uint64).reshape(n, 2)
        self._parts.append((codes, words[:, 0].copy(), words[:, 1].copy(), np.fromiter(map(LABEL_INDEX.get, labels, repeat(-1, n)), np.int8, n),
                            np.fromiter(ats, np.float64, n)))
        self.count += n

    def page(self) -> Page | None:
        """The page, or None when the set fold could not match hashes exactly by integers: a hash
        that is not 16 bytes, or two hashes sharing their first 8 bytes (the caller runs the loop)."""
        if not self.count or not self._exact:
            return None
        codes, first, second, label, at = (np.concatenate(part) for part in zip(*self._parts))
        prefixes, rep = np.unique(first, return_inverse=True)  # big-endian words: their order is the bytes' order
        seconds = np.empty(len(prefixes), np.uint64)
        seconds[rep] = second
        if not bool((seconds[rep] == second).all()):  # two hashes share their first 8 bytes
            return None
        unique_words = np.column_stack((prefixes, seconds))
        joined = unique_words.astype(">u8").tobytes()
        hashes = [joined[i:i + HASH] for i in range(0, len(joined), HASH)]
        coded, num = np.unique(codes, return_inverse=True)  # in the numbers' string order
        plain = int(np.searchsorted(coded, ODD))
        numbers = numcodes.decode(coded[:plain])
        if plain < len(coded):  # numbers without a code: rank every number by its string
            names = {code: name for name, code in self._odd.items()}
            numbers += [names[int(code) - ODD] for code in coded[plain:].tolist()]
            order = sorted(range(len(numbers)), key=numbers.__getitem__)
            rank = np.empty(len(numbers), np.int64)
            rank[order] = np.arange(len(numbers))
            numbers, num = [numbers[i] for i in order], rank[num]
        return Page(numbers, hashes, unique_words, num.astype(np.int64), rep.astype(np.int64), label.astype(np.int64), at)
