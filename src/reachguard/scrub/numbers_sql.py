"""Number normalisation in DuckDB SQL, agreeing exactly with `reachguard.numbers.try_normalize`.

Why three tiers: a campaign list has millions of rows, nearly all of them Chinese mobiles in a
handful of spellings. Tier 1 runs on every row (`row_key_sql`): a value already compact is keyed
by arithmetic; a value spaced with the common ASCII separators (space, `-`, `(`, `)`, `.`) is
recognised by one more regex and only then compacted (`+86 138-0013-8000`). Tier 2 (`settle_distinct`) runs on
the *distinct* raw values still open: every separator the Python normaliser removes, and its
full-width digits mapped, then matched again. Tier 3 hands whatever SQL could not
settle (landlines, foreign numbers, garbage) to the Python normaliser itself, once per distinct
value, so the answer for those rows is the engine's by construction.

The separator set is the one `numbers._SEPARATORS` matches; Python's `\\s` is Unicode-aware and
RE2's is not, so the whitespace characters are spelled out (a test checks the list against
`re`).
"""

from __future__ import annotations

from typing import Callable, Iterable

import duckdb
import pyarrow as pa

from reachguard.numbers import try_normalize

# Characters Python's `\s` matches in a str pattern (tests/scrub/test_numbers_sql.py checks this).
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# Everything numbers._SEPARATORS removes: \s, - . ( ), U+3000, U+2010..U+2015, （ ） －.
SEPARATORS = PY_WHITESPACE + "-.()" + "".join(chr(c) for c in range(0x2010, 0x2016)) + "（）－"
FULLWIDTH = "０１２３４５６７８９＋"
ASCII_FOR_FULLWIDTH = "0123456789+"
MAX_RAW_LENGTH = 64  # numbers._MAX_RAW_LENGTH
COMMON_SEPARATORS = " -()."  # removed per row (row_compact_sql); the rest per distinct value

# The +86 mobile form after compaction: numbers._CN_MOBILE with ASCII digits only.
CN_MOBILE_RE = r"(?:\+86|0086|86)?1[3-9][0-9]{9}"


def _re2_class(chars: str) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(set(chars))) + "]+"


SEPARATOR_CLASS = _re2_class(SEPARATORS)


def sql_quote(text: str) -> str:
    """A SQL string literal (DuckDB: single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def row_compact_sql(raw: str) -> str:
    """The value without the common ASCII separators (space, `-`, `(`, `)`, `.`).

    `replace` is a memchr scan: several times cheaper than a regex class or `translate` over
    millions of rows. Used only on values `SPACED_MOBILE_RE` matched, so the result is digits
    and at most a leading `+`.
    """
    compact = raw
    for char in COMMON_SEPARATORS:
        compact = f"replace({compact}, {sql_quote(char)}, '')"
    return compact


_SEP = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in COMMON_SEPARATORS) + "]*"


def _spaced(tokens: list[str]) -> str:
    return _SEP.join(tokens)


# CN_MOBILE_RE with any run of COMMON_SEPARATORS allowed before, between and after its tokens:
# a value matches this exactly when, with those separators removed, it matches CN_MOBILE_RE.
SPACED_MOBILE_RE = (
    _SEP + "(?:" + "|".join(_spaced(t) for t in (["\\+", "8", "6"], ["0", "0", "8", "6"], ["8", "6"])) + ")?"
    + _SEP + _spaced(["1", "[3-9]"]) + "(?:" + _SEP + "[0-9]){9}" + _SEP
)
CN_MOBILE_BASE = 8600000000000  # the key of +86 1xx… is this plus the 11 digits as a number


def row_key_sql(raw: str) -> str:
    """Tier 1 on every row: the integer key (rows.py) of a +86 mobile form, else NULL.

    Most values are already compact (`13800138000`, `+8613800138000`, `008613800138000`): for
    those the first regex matches and the key is arithmetic — the value's digits as a number,
    modulo 10^11, are the 11 digits of the mobile — with no string built at all. Spaced forms
    (`+86 138-0013-8000`) are recognised by one more regex (`SPACED_MOBILE_RE`, a DFA pass) and
    only they pay for one compaction (`row_compact_sql`); anything else is left to tier 2.
    NULL beyond `MAX_RAW_LENGTH`, as the Python normaliser. (DuckDB evaluates a CASE branch
    only for the rows that reach it and does not share a subexpression between branches: the
    compaction is written once, in the branch that needs it.)
    """
    digits = f"% {10 ** 11}"
    return (f"CASE WHEN regexp_full_match({raw}, {sql_quote(CN_MOBILE_RE)}) THEN {CN_MOBILE_BASE} + CAST({raw} AS BIGINT) {digits} "
            f"WHEN length({raw}) <= {MAX_RAW_LENGTH} AND regexp_full_match({raw}, {sql_quote(SPACED_MOBILE_RE)}) "
            f"THEN {CN_MOBILE_BASE} + CAST({row_compact_sql(raw)} AS BIGINT) {digits} END")


def compact_sql(raw: str) -> str:
    """Separators removed, full-width digits and plus mapped to ASCII (only where non-ASCII)."""
    stripped = f"regexp_replace({raw}, {sql_quote(SEPARATOR_CLASS)}, '', 'g')"
    return (
        f"CASE WHEN strlen({raw}) = length({raw}) THEN {stripped} "
        f"ELSE translate({stripped}, {sql_quote(FULLWIDTH)}, {sql_quote(ASCII_FOR_FULLWIDTH)}) END"
    )


def settle_distinct(con: duckdb.DuckDBPyConnection, pending: str, out: str,
                    python: Callable[[str], str | None] = try_normalize) -> tuple[int, int]:
    """Normalise the distinct raw values of table `pending(raw)` into table `out(raw, num)`.

    Tier 2 in SQL, then tier 3 (the Python normaliser) for what SQL left open. A NULL `num`
    means invalid. Returns (values settled in SQL, values sent to Python).
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT raw,
               CASE WHEN length(raw) > {MAX_RAW_LENGTH} OR raw = '' THEN 'invalid'
                    WHEN regexp_full_match(x, {sql_quote(CN_MOBILE_RE)}) THEN 'mobile'
                    WHEN x = '' THEN 'invalid'
                    ELSE 'python' END AS how,
               CASE WHEN length(raw) <= {MAX_RAW_LENGTH} AND regexp_full_match(x, {sql_quote(CN_MOBILE_RE)})
                    THEN '+86' || right(x, 11) END AS num
        FROM (SELECT raw, {compact_sql('raw')} AS x FROM {pending})"""
    )
    leftovers = [row[0] for row in con.execute(f"SELECT raw FROM {out} WHERE how = 'python'").fetchall()]
    in_sql = con.execute(f"SELECT count(*) FROM {out} WHERE how <> 'python'").fetchall()[0][0]
    if leftovers:
        mapped = pa.table({"raw": pa.array(leftovers, pa.string()),
                           "num": pa.array([python(value) for value in leftovers], pa.string())})
        con.register("rg_python_numbers", mapped)
        con.execute(
            f"UPDATE {out} SET num = p.num FROM rg_python_numbers p WHERE {out}.raw = p.raw AND {out}.how = 'python'"
        )
        con.unregister("rg_python_numbers")
    return in_sql, len(leftovers)


def normalise_values(values: Iterable[str | None]) -> list[str | None]:
    """The whole SQL path on a small list (for tests and one-off checks)."""
    values = list(values)
    con = duckdb.connect()
    try:
        con.register("rg_in", pa.table({"raw": pa.array(values, pa.string())}))
        con.execute(f"CREATE TEMP TABLE rg_fast AS SELECT raw, '+' || CAST({row_key_sql('raw')} AS VARCHAR) AS num FROM rg_in")
        con.execute("CREATE TEMP TABLE rg_pending AS SELECT DISTINCT raw FROM rg_fast WHERE num IS NULL AND raw IS NOT NULL")
        settle_distinct(con, "rg_pending", "rg_settled")
        mapping = dict(con.execute("SELECT raw, num FROM rg_settled").fetchall())
        fast = [row[0] for row in con.execute("SELECT num FROM rg_fast").fetchall()]
    finally:
        con.close()
    return [f if f is not None else (mapping.get(v) if v is not None else None) for v, f in zip(values, fast)]
