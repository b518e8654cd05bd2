"""Hashed character n-gram features, computed for a whole batch at once with numpy.

Why not sklearn's ``HashingVectorizer``: it builds every n-gram as a Python string, one document
at a time, and that loop alone held the classifier under 20,000 messages/s on one core. Here a
batch is joined into one array of code points, each n-gram's hash is a few vectorised integer
operations over that array (FNV-1a-style combine + the murmur3 64-bit finaliser), and the CSR
matrix is assembled directly. Semantics match ``HashingVectorizer(analyzer="char",
binary=True, norm="l2", alternate_sign=False)``: every distinct n-gram bucket of a message
counts 1, rows are L2-normalised; only the hash function differs, so the model must be trained
with this class (``reachguard.protect.train`` does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


def _fmix(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser: spreads the combined code points over all bits."""
    h = h ^ (h >> _S33)
    h = h * _MIX1
    h = h ^ (h >> _S33)
    h = h * _MIX2
    return h ^ (h >> _S33)


class CharNgramHasher:
    """Stateless: ``(ngram_range, n_features)`` fully define it; nothing to fit or ship."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), n_features: int = 2**18) -> None:
        if n_features & (n_features - 1):
            raise ValueError("n_features must be a power of two")
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.n_features = int(n_features)
        self._mask = np.uint64(n_features - 1)

    def _hash(self, cp: np.ndarray, n: int, m: int) -> np.ndarray:
        """Bucket of the n-gram starting at each of the first ``m`` positions of ``cp``."""
        with np.errstate(over="ignore"):
            h = np.full(m, 0xCBF29CE484222325 ^ n, dtype=np.uint64)
            for k in range(n):
                h = (h ^ cp[k : k + m]) * _PRIME
            return (_fmix(h) & self._mask).astype(np.int64)

    def hash_terms(self, terms: Sequence[str]) -> np.ndarray:
        """Bucket of each whole term (used to map explanation n-grams to features)."""
        out = np.empty(len(terms), dtype=np.int64)
        for i, t in enumerate(terms):
            cp = np.frombuffer(t.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
            out[i] = self._hash(cp, len(t), 1)[0]
        return out

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Binary, L2-normalised n-gram features, one row per text (texts already normalised)."""
        n_docs = len(texts)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n_docs)
        total = int(lengths.sum())
        cp = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        # characters left in the message from each position (1 at its last character)
        left = np.repeat(lengths + np.cumsum(lengths) - lengths, lengths) - np.arange(total)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        lo, hi = self.ngram_range
        for n in range(lo, hi + 1):
            m = total - n + 1
            if m <= 0:
                continue
            ok = left[:m] >= n
            rows.append(doc[:m][ok])
            cols.append(self._hash(cp, n, m)[ok])
        if rows:
            # sort + mask: ~10x faster than np.unique's hash path on ~10^5 int64 keys. The same
            # keys in 32 bits when they fit (up to 16,384 texts at 2^18 features): half the bytes
            # to sort, ~1.5x faster; the rows, columns and order that come out are the same.
            key_type = np.uint32 if n_docs * self.n_features <= 2**32 else np.int64
            keys = np.concatenate(rows).astype(key_type) * key_type(self.n_features)
            keys += np.concatenate(cols).astype(key_type)
            keys.sort()
            if len(keys) > 1:
                keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
        else:
            keys = np.empty(0, dtype=np.int64)
        r = keys // self.n_features
        c = keys - r * self.n_features
        counts = np.bincount(r, minlength=n_docs)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        with np.errstate(divide="ignore"):
            scale = (1.0 / np.sqrt(counts)).astype(np.float32)
        x = sparse.csr_matrix((scale[r], c.astype(np.int32), indptr), shape=(n_docs, self.n_features))
        x.has_sorted_indices = True
        return x
