"""A row's code comes from its signature's judgement, never a wrong one, never a silent gap."""

from __future__ import annotations

import numpy as np
import pytest

from reachguard.scrub.features import Features, row_codes


def _feat(sigs: np.ndarray, exact: np.ndarray) -> Features:
    rids = np.arange(len(sigs), dtype=np.int64)[::-1].copy()  # not in row order, as the key order leaves them
    return Features(rids, np.asarray(sigs, dtype=np.int64), np.asarray(exact, dtype=bool))


@pytest.mark.parametrize("scale", [1, 1 << 40])  # small signatures and ones past 32 bits
def test_each_row_gets_its_signatures_code(scale: int) -> None:
    rng = np.random.default_rng(3)
    sigs = rng.choice(np.arange(0, 5000), size=40, replace=False) * scale
    decided = {int(s): int(c) for s, c in zip(sigs, rng.integers(0, 9, size=len(sigs)))}
    rows = rng.choice(sigs, size=10_000)
    exact = rng.random(10_000) < 0.1
    feat = _feat(rows, exact)
    rid, code = row_codes(feat, decided)
    expected = {int(r): decided[int(s)] for r, s, e in zip(range(len(rows))[::-1], rows, exact) if not e}
    assert dict(zip(rid.tolist(), code.tolist())) == expected
    assert len(rid) == len(expected)  # each row once; the exact ones left to the engine


@pytest.mark.parametrize("stray", [7, -1, 10_000, 1 << 40])
def test_a_signature_never_judged_is_an_error(stray: int) -> None:
    feat = _feat(np.array([0, 8, stray, 16]), np.zeros(4, bool))
    with pytest.raises(RuntimeError, match="never judged"):
        row_codes(feat, {0: 1, 8: 2, 16: 0, 4096: 3})


def test_a_stray_signature_on_an_exact_row_is_not_looked_up() -> None:
    feat = _feat(np.array([0, 7]), np.array([False, True]))
    rid, code = row_codes(feat, {0: 4})
    assert (rid.tolist(), code.tolist()) == ([1], [4])


def test_no_rows() -> None:
    rid, code = row_codes(_feat(np.empty(0, np.int64), np.empty(0, bool)), {8: 2})
    assert rid.tolist() == [] and code.tolist() == []
