"""Every list row's number as an integer key, bad cells marked, the first row of each number kept.

Why integer keys: joining and grouping ten million 14-byte strings (`+8613800138000`, too long
for DuckDB's inlined strings) costs several times what 8-byte integers do. An E.164 number is
`+` and at most ~20 digits, the first never 0, so `+` dropped, the digits *are* the number:
`key = int(e164[1:])` is one-to-one for every number of up to 18 digits. The rare longer ones
(and anything the normaliser returned in another shape) get negative keys of their own, table
`rg_odd(key, num)`, and are judged by the engine one by one (features.py), since the store's
copy of such a number has no key to match.

Tables made here (`rid` = the row's position in `rg_src`):
  rg_rows(rid, key, pending, field_ok, subject, relation)  a view of every row: columns `select`
                                     added to rg_src as the list was read (key NULL: invalid
                                     number; pending: the raw value when tier 1 could not settle it)
  rg_kept(key, rid)                               the first valid, well-formed row of each key
                                     (subject and relation: that row's, in rg_rows)
  rg_odd(key, num)                                the E.164 of each negative key
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from reachguard.scrub import keysets, numbers_sql
from reachguard.scrub.source import RESERVED_PREFIX, Source, quote_ident, text_sql

RELATIONS = ("borrower", "contact", "guarantor", "prospect")
KEYABLE_RE = r"\+[1-9][0-9]{0,17}"


def key_sql(e164: str) -> str:
    """The integer key of an E.164 string (NULL if it has none: see the module docstring)."""
    return f"CASE WHEN regexp_full_match({e164}, '{KEYABLE_RE}') THEN CAST(substr({e164}, 2) AS BIGINT) END"


def num_sql(key: str) -> str:
    """The E.164 string of a key (negative keys through `rg_odd`)."""
    return f"CASE WHEN {key} >= 0 THEN '+' || CAST({key} AS VARCHAR) ELSE (SELECT num FROM rg_odd WHERE rg_odd.key = {key}) END"


P = RESERVED_PREFIX


def select(src: Source, table: str) -> str:
    """The SELECT that loads the list with each row's key, pending raw value, field check,
    subject and relation as extra columns (source.load): computed in the same parallel pass
    that parses the file, instead of a second pass over ten million rows."""
    raw = text_sql(src, src.number_column)
    subject = f"NULLIF(trim({text_sql(src, src.subject_column)}), '')" if src.subject_column else "NULL::VARCHAR"
    relation = f"NULLIF(lower(trim({text_sql(src, src.relation_column)})), '')" if src.relation_column else "NULL::VARCHAR"
    allowed = ", ".join(numbers_sql.sql_quote(r) for r in RELATIONS)
    # A plain CSV's rows are written back from its lines (passthrough.py): load only what is read.
    read = ", ".join(quote_ident(c) for c in dict.fromkeys(
        c for c in (src.number_column, src.subject_column, src.relation_column) if c)) if src.plain else "*"
    # A NUL character: PostgreSQL's text cannot hold one (its state statement would fail), so a
    # subject or relation with one is INVALID_FIELD on every store: the same answer on both.
    # Tier 1 per row: a +86 mobile's key is 86 followed by its 11 digits.
    return f"""SELECT *, CASE WHEN {P}key IS NULL THEN {raw} END AS {P}pending,
               ({P}relation IS NULL OR {P}relation IN ({allowed})) AND ({P}subject IS NULL OR length({P}subject) <= 128)
               AND NOT contains(coalesce({P}subject, '') || coalesce({P}relation, ''), chr(0)) AS {P}field_ok
        FROM (SELECT {read}, {numbers_sql.row_key_sql(raw)} AS {P}key, {subject} AS {P}subject, {relation} AS {P}relation
              FROM {table})"""


@dataclass(frozen=True, slots=True)
class Built:
    in_sql: int  # rows whose number tier 1 settled
    in_python: int  # distinct raw values handed to numbers.try_normalize
    kept: keysets.Kept  # the first valid, well-formed row of each key, by key


def build(con: duckdb.DuckDBPyConnection, src: Source) -> Built:
    """Create rg_rows (a view of rg_src loaded with `select`), rg_odd and rg_kept (registered
    from numpy: `kept`)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW rg_rows AS SELECT rowid AS rid, {P}key AS key, {P}pending AS pending,
        {P}field_ok AS field_ok, {P}subject AS subject, {P}relation AS relation FROM rg_src"""
    )
    fast = con.execute("SELECT count(key) FROM rg_rows").fetchall()[0][0]
    # Tiers 2-3: the distinct raw values tier 1 could not settle, once each.
    con.execute("CREATE OR REPLACE TEMP TABLE rg_pending AS SELECT DISTINCT pending AS raw FROM rg_rows WHERE pending IS NOT NULL")
    _, in_python = numbers_sql.settle_distinct(con, "rg_pending", "rg_settled")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rg_odd AS
        SELECT -row_number() OVER (ORDER BY num) AS key, num FROM (SELECT DISTINCT num FROM rg_settled
        WHERE num IS NOT NULL AND {key_sql('num')} IS NULL)"""
    )
    if con.execute("SELECT count(num) FROM rg_settled").fetchall()[0][0]:
        con.execute(
            f"""UPDATE rg_src SET {P}key = s.key FROM (
                SELECT p.raw, coalesce({key_sql('p.num')}, o.key) AS key FROM rg_settled p LEFT JOIN rg_odd o ON o.num = p.num
                WHERE p.num IS NOT NULL) s
            WHERE rg_src.{P}pending = s.raw"""
        )
    # The first row of each number is kept: a sort in numpy (keysets.py), not a GROUP BY.
    kept = _first_rows(con)
    con.register("rg_kept", pa.table({"key": kept.key, "rid": kept.rid}))
    return Built(fast, in_python, kept)


def _first_rows(con: duckdb.DuckDBPyConnection) -> keysets.Kept:
    """The first valid, well-formed row of each key. Where (key, rid) pairs pack into one
    integer, DuckDB packs them in its parallel scan and numpy only sorts (keysets.py)."""
    valid = "FROM rg_rows WHERE key IS NOT NULL AND field_ok"
    low, high, first, last = con.execute(f"SELECT min(key), max(key), min(rid), max(rid) {valid}").fetchall()[0]
    bits = keysets.packing(low, high, first, last) if low is not None else None
    if bits is None:  # no valid row, or pairs too wide to pack
        found = con.sql(f"SELECT key, rid {valid}").fetchnumpy()
        return keysets.sorted_first_rows(np.asarray(found["key"], np.int64), np.asarray(found["rid"], np.int64))
    packed = con.sql(f"SELECT ((key - {low}) << {bits}) | rid AS packed {valid}").fetchnumpy()["packed"]
    return keysets.first_rows_packed(np.asarray(packed), low, bits)
