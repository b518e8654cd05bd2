"""A page of reports as the set fold reads it: integer columns over sorted key lists.

Why: at millions of reports every pass of Python over the rows costs ~0.2–0.5 µs per report
(each row's objects are a cache miss), and the set fold used to make several (transposing,
two sets, hashing numbers and labels, joining hashes, reading times). `Columns` turns rows into
ids once, batch by batch while each batch is still in the cache (a bulk ingest holds ~17 bytes
per pending report instead of its row tuples), and `page()` ranks the ids by key, once per fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Sequence

import numpy as np

from reachguard.reputation.votes import LABEL_INDEX

HASH = 16


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
    """Prepared rows accumulated as ids (numbers, hashes) and codes (labels), batch by batch."""

    def __init__(self) -> None:
        self.number_ids: dict[str, int] = {}  # id: the order of `list(self.number_ids)`
        self.hash_ids: dict[bytes, int] = {}
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def extend(self, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        numbers, labels, hashes, ats = list(zip(*rows))[:4]
        n = len(rows)
        self._parts.append((_ids(self.number_ids, numbers), _ids(self.hash_ids, hashes),
                            np.fromiter(map(LABEL_INDEX.get, labels, repeat(-1, n)), np.int8, n),
                            np.fromiter(ats, np.float64, n)))
        self.count += n

    def page(self) -> Page | None:
        """The page, or None when the set fold could not match hashes exactly by integers: a hash
        that is not 16 bytes, or two hashes sharing their first 8 bytes (the caller runs the loop)."""
        if not self.count:
            return None
        numbers, hashes = list(self.number_ids), list(self.hash_ids)
        joined = b"".join(hashes)
        if len(joined) != HASH * len(hashes):
            return None
        words = np.frombuffer(joined, dtype=">u8").astype(np.uint64).reshape(-1, 2)
        by_bytes = np.argsort(words[:, 0])  # h0 is the big-endian prefix: its order is the bytes' order
        words = words[by_bytes]
        if len(words) > 1 and not bool((words[1:, 0] > words[:-1, 0]).all()):
            return None
        hash_rank = np.empty(len(hashes), np.int64)
        hash_rank[by_bytes] = np.arange(len(hashes))
        ordered = sorted(numbers)
        where = dict(zip(ordered, range(len(ordered))))
        number_rank = np.fromiter(map(where.__getitem__, numbers), np.int64, len(numbers))
        num, rep, label, at = (np.concatenate(part) for part in zip(*self._parts))
        return Page(ordered, [hashes[i] for i in by_bytes.tolist()], words, number_rank[num], hash_rank[rep],
                    label.astype(np.int64), at)


def _ids(table: dict, keys: Sequence) -> np.ndarray:
    """Each key's id in `table`, new keys numbered from len(table) up (in no particular order:
    `Columns.page` ranks them). Set and dict operations in C, no Python loop per key."""
    new = set(keys).difference(table)
    table.update(zip(new, range(len(table), len(table) + len(new))))
    return np.fromiter(map(table.__getitem__, keys), np.int32, len(keys))
