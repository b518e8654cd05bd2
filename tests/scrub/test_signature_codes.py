"""A row's code comes from its signature's judgement, by table or by search, never a wrong one."""

from __future__ import annotations

import numpy as np
import pytest

from reachguard.scrub.features import code_of_signature as _code_of_signature


@pytest.mark.parametrize("scale", [1, 1 << 30])  # small signatures (table) and large ones (binary search)
def test_each_row_gets_its_signatures_code(scale: int) -> None:
    rng = np.random.default_rng(3)
    sigs = rng.choice(np.arange(0, 5000), size=40, replace=False) * scale
    decided = {int(s): int(c) for s, c in zip(sigs, rng.integers(0, 9, size=len(sigs)))}
    rows = rng.choice(sigs, size=10_000)
    got = _code_of_signature(decided, rows)
    assert got.tolist() == [decided[int(s)] for s in rows]


@pytest.mark.parametrize("stray", [7, -1, 10_000, 1 << 40])
def test_a_signature_never_judged_is_an_error(stray: int) -> None:
    decided = {0: 1, 8: 2, 16: 0, 4096: 3}
    with pytest.raises(RuntimeError, match="never judged"):
        _code_of_signature(decided, np.array([0, 8, stray, 16], dtype=np.int64))


def test_no_rows() -> None:
    assert _code_of_signature({8: 2}, np.empty(0, np.int64)).tolist() == []
