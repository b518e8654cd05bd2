"""Every list row's number as an integer key, bad cells marked, the first row of each number kept.

Why integer keys: joining and grouping ten million 14-byte strings (`+8613800138000`, too long
for DuckDB's inlined strings) costs several times what 8-byte integers do. An E.164 number is
`+` and at most ~20 digits, the first never 0, so `+` dropped, the digits *are* the number:
`key = int(e164[1:])` is one-to-one for every number of up to 18 digits. The rare longer ones
(and anything the normaliser returned in another shape) get negative keys of their own, table
`rg_odd(key, num)`, and are judged by the engine one by one (features.py), since the store's
copy of such a number has no key to match.

Tables made here (`rid` = the row's position in `rg_src`):
  rg_rows(rid, key, pending, field_ok, subject, relation)  every row (key NULL: invalid number;
                                     pending: the raw value when SQL alone could not settle it)
  rg_kept(key, rid, subject, relation)            the first valid, well-formed row of each key
  rg_odd(key, num)                                the E.164 of each negative key
"""

from __future__ import annotations

import duckdb

from reachguard.scrub import numbers_sql
from reachguard.scrub.source import Source, text_sql

RELATIONS = ("borrower", "contact", "guarantor", "prospect")
KEYABLE_RE = r"\+[1-9][0-9]{0,17}"


def key_sql(e164: str) -> str:
    """The integer key of an E.164 string (NULL if it has none: see the module docstring)."""
    return f"CASE WHEN regexp_full_match({e164}, '{KEYABLE_RE}') THEN CAST(substr({e164}, 2) AS BIGINT) END"


def num_sql(key: str) -> str:
    """The E.164 string of a key (negative keys through `rg_odd`)."""
    return f"CASE WHEN {key} >= 0 THEN '+' || CAST({key} AS VARCHAR) ELSE (SELECT num FROM rg_odd WHERE rg_odd.key = {key}) END"


def build(con: duckdb.DuckDBPyConnection, src: Source) -> tuple[int, int]:
    """Create rg_rows, rg_kept and rg_odd; returns (rows settled in SQL per row, distinct values sent to Python)."""
    subject = f"NULLIF(trim({text_sql(src, src.subject_column)}), '')" if src.subject_column else "NULL"
    relation = f"NULLIF(lower(trim({text_sql(src, src.relation_column)})), '')" if src.relation_column else "NULL"
    allowed = ", ".join(numbers_sql.sql_quote(r) for r in RELATIONS)
    mobile = numbers_sql.sql_quote(numbers_sql.CN_MOBILE_RE)
    # Tiers 1-2 per row: a +86 mobile's key is 86 followed by its 11 digits.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rg_rows AS
        SELECT rid, key, CASE WHEN key IS NULL THEN raw END AS pending, field_ok, subject, relation
        FROM (SELECT rid, raw, CASE WHEN regexp_full_match(x, {mobile}) THEN CAST('86' || right(x, 11) AS BIGINT) END AS key,
               (relation IS NULL OR relation IN ({allowed})) AND (subject IS NULL OR length(subject) <= 128) AS field_ok,
               subject, relation
        FROM (SELECT rid, raw, {numbers_sql.row_compact_sql('raw')} AS x, subject, relation
              FROM (SELECT rowid AS rid, {text_sql(src, src.number_column)} AS raw, {subject} AS subject,
                           {relation} AS relation FROM rg_src)))"""
    )
    fast = con.execute("SELECT count(key) FROM rg_rows").fetchall()[0][0]
    # Tier 3: the distinct raw values SQL could not settle, once each.
    con.execute("CREATE OR REPLACE TEMP TABLE rg_pending AS SELECT DISTINCT pending AS raw FROM rg_rows WHERE pending IS NOT NULL")
    _, in_python = numbers_sql.settle_distinct(con, "rg_pending", "rg_settled")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rg_odd AS
        SELECT -row_number() OVER (ORDER BY num) AS key, num FROM (SELECT DISTINCT num FROM rg_settled
        WHERE num IS NOT NULL AND {key_sql('num')} IS NULL)"""
    )
    if con.execute("SELECT count(num) FROM rg_settled").fetchall()[0][0]:
        con.execute(
            f"""UPDATE rg_rows SET key = s.key FROM (
                SELECT p.raw, coalesce({key_sql('p.num')}, o.key) AS key FROM rg_settled p LEFT JOIN rg_odd o ON o.num = p.num
                WHERE p.num IS NOT NULL) s
            WHERE rg_rows.pending = s.raw"""
        )
    # The first row of each number is kept; subject and relation only when the list has them.
    extra = "".join(f", arg_min_null({name}, rid) AS {name}" if present else f", NULL::VARCHAR AS {name}"
                    for name, present in (("subject", src.subject_column), ("relation", src.relation_column)))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rg_kept AS
        SELECT key, min(rid) AS rid{extra} FROM rg_rows WHERE key IS NOT NULL AND field_ok GROUP BY key"""
    )
    return fast, in_python
