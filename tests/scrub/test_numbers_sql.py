"""The SQL normaliser agrees with reachguard.numbers.try_normalize on messy forms."""

from __future__ import annotations

import random
import re
import sys

from reachguard.numbers import try_normalize
from reachguard.scrub import numbers_sql

MESSY = [
    "13800138000", "+8613800138000", "8613800138000", "008613800138000", "+86 138 0013 8000",
    "0086-138-0013-8000", "138 0013 8000", "138-0013-8000", "(+86) 138-0013-8000", "+86.138.0013.8000",
    "１３８００１３８０００", "＋８６ １３８ ００１３ ８０００", "+86 138\u30000013 8000", " 13800138000 ",
    "\t13800138000\n", "138\u20140013\u20148000", "138（0013）8000", "138－0013－8000", "138\xa00013\xa08000",
    "+86\u2009138\u200a0013 8000", "86-138-0013-8000", "0086 13800138000", "+86(138)00138000",
    "12800138000", "1380013800", "138001380001", "+86 123 4567 8901", "+87 138 0013 8000",
    "010 6552 9988", "+1 212 555 0134", "+44 20 7946 0958", "00442079460958", "(010) 6552-9988",
    "", " ", "  -  ", "abc", "12345", "not a number", "☎☎☎", "1" * 65, "1" * 64, "+86 138 0013 8000 ext 12",
    "+86 1380013800O", "13800138000;13900139000", "１３٨00138000", "+８６１３８００１３８０００", "＋＋8613800138000",
    "0086+13800138000", "8686 13800138000", "+86-+86-13800138000", "13800138000\u3000", "1-800-FLOWERS",
    "+8613800138000 ", "\u202f13800138000", "19912345678", "16612345678", "17012345678", "14012345678",
    # what a cast to an integer is lenient about (row_key_sql must not be)
    "138001380e2", "1_3800138000", "86138001380e2", "+861380013800.", "+86+3800138000", "0086 1380013800",
    "+8613800138000\u0301", "8\u030113800138000", "+8613800138000\x00", "1380013800\u0661", "+00013800138000",
]


def test_whitespace_list_matches_python_backslash_s() -> None:
    expected = {chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c))}
    assert set(numbers_sql.PY_WHITESPACE) == expected


def test_sql_and_python_agree_on_messy_forms() -> None:
    assert numbers_sql.normalise_values(MESSY) == [try_normalize(v) for v in MESSY]


def test_sql_and_python_agree_on_random_mutations() -> None:
    rng = random.Random(6)
    pieces = list("0123456789０１２３４５６７８９+＋ -.()（）－\u3000\u2010\u2015\xa0\t#xA") + ["86", "0086", "+86", "138", "1"]
    values = []
    for _ in range(3000):
        base = f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}" if rng.random() < 0.7 else ""
        chars = list(base)
        for _ in range(rng.randint(0, 4)):
            chars.insert(rng.randint(0, len(chars)), rng.choice(pieces))
        values.append("".join(chars))
    values.append(None)
    assert numbers_sql.normalise_values(values) == [try_normalize(v) if v is not None else None for v in values]


def test_spaced_mobile_regex_is_compaction_then_mobile_match() -> None:
    """SPACED_MOBILE_RE (one DFA pass) accepts exactly the values that, with the common
    separators removed, are a +86 mobile form: checked in DuckDB's RE2 against Python."""
    import duckdb
    import pyarrow as pa

    rng = random.Random(11)
    pieces = list(" -.()") * 6 + list("0123456789+x\t") + ["86", "0086", "+86", "138", "1", "  ", "(+86)"]
    values = ["+86 138-0013-8000", "(+86) 138.0013.8000", "0 0 8 6 1 3 8 0 0 1 3 8 0 0 0", "+ 86 13800138000",
              "86 138 0013 8000 ", "+86 +13800138000", "138-0013-800", "..13800138000..", "(((13800138000)))"]
    for _ in range(4000):
        base = f"1{rng.randint(1, 9)}{rng.randrange(10**9):09d}" if rng.random() < 0.8 else ""
        chars = list(rng.choice(["", "+86", "0086", "86", "+8", "086"]) + base)
        for _ in range(rng.randint(0, 5)):
            chars.insert(rng.randint(0, len(chars)), rng.choice(pieces))
        values.append("".join(chars))
    con = duckdb.connect()
    con.register("v", pa.table({"raw": pa.array(values, pa.string())}))
    got = [row[0] for row in con.execute(
        f"SELECT regexp_full_match(raw, {numbers_sql.sql_quote(numbers_sql.SPACED_MOBILE_RE)}) FROM v").fetchall()]
    compact = [re.sub(r"[ ().-]", "", v) for v in values]
    expected = [re.fullmatch(numbers_sql.CN_MOBILE_RE, c) is not None for c in compact]
    assert got == expected
    assert sum(expected) > 500 and sum(not e for e in expected) > 500  # both sides well exercised
