"""Numbers as integers in their string order (reputation/numcodes.py): exact both ways, ordered
as the strings are, and no code for what does not fit — so two numbers never share a code."""

from __future__ import annotations

import random

import numpy as np

from reachguard.reputation import numcodes
from reachguard.reputation.page import Columns


def test_codes_round_trip_and_sort_as_the_strings_do() -> None:
    rng = random.Random(3)
    numbers = list({("+" if rng.random() < 0.7 else "") + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 17)))
                    for _ in range(20_000)}) + ["+8613800138000", "10690000123", "106980095588", "+"]
    codes = numcodes.encode(numbers)
    assert (codes >= 0).all()
    assert numcodes.decode(codes) == numbers
    assert [numbers[i] for i in np.argsort(codes, kind="stable")] == sorted(numbers)
    assert len(set(codes.tolist())) == len(set(numbers))


def test_what_does_not_fit_has_no_code() -> None:
    misfits = ["", "123456789012345678", "+123456789012345678", "1\x00", "1\x002", "\x001", "+86a", "+44 20", "86+1", "1２3"]
    fits = ["12345678901234567", "+12345678901234567"]
    codes = numcodes.encode(misfits + fits)
    assert codes[:len(misfits) - 1].tolist() == [-1] * (len(misfits) - 1)
    assert numcodes.encode(["+8613800138000", "é"]).tolist() == numcodes.encode(["+8613800138000"]).tolist() + [-1]
    assert numcodes.encode([]).tolist() == []


def test_a_page_keeps_numbers_without_a_code_in_string_order() -> None:
    """A 20-digit port and a non-ASCII string take the other way (in batches of every size); the
    page is the same: numbers in string order, each report's number where it was."""
    rng = random.Random(8)
    pool = ["+8613800138000", "10612345678901234567", "10690000123", "+8613900139000", "1069é", "+1"]
    rows = [(rng.choice(pool), "fraud", rng.randbytes(16), float(i), None) for i in range(400)]
    for size in (1, 7, 400):
        columns = Columns()
        for start in range(0, len(rows), size):
            columns.extend(rows[start:start + size])
        page = columns.page()
        assert page is not None and page.numbers == sorted(set(pool))
        assert [page.numbers[i] for i in page.num.tolist()] == [r[0] for r in rows]
