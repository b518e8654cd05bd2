"""Key tables of a SQLite store: the dnc and opt-out numbers as integer keys, kept by triggers.

Why: a campaign scrub (scrub/export.py) joins millions of list rows against every listed and
opted-out number. Reading `dnc` and `opt_outs` themselves means scanning every row of both and
turning each stored number into an integer key — most of a 10M scrub's store time. These two
tables hold exactly what the scrub needs, already keyed and ordered by scope, so a scrub reads
only the ranges that apply (one list, one org) as plain integers:

  dnc_keys(list, key)          one row per (list, number) of `dnc`
  opt_out_keys(org, key, …)    one row per (org or '' for every org, number) of `opt_outs`: the
                               newest `at` per channel, for opt-outs (every kind but `complaint`,
                               as rules/consent.py) and for complaints separately (policy decides
                               whether complaints count)

Why triggers: they run inside the transaction of whatever writes `dnc` or `opt_outs` — the
store's methods, replay, a bulk load with plain SQL, even an older version of this program —
so the key tables agree with the rows they summarise. One exception, hand-written SQL only:
an `INSERT OR REPLACE` / `UPDATE OR REPLACE` into `opt_outs` that removes a row clashing on
`seq` fires no delete trigger (SQLite's recursive_triggers is off), so the removed row stays
counted — the scrub then rejects more than `decide` would, never less. The program itself never
REPLACEs into `opt_outs`. `key` is the number's
E.164 digits as an integer (`+` then 1 to 18 digits, the first not 0: one-to-one, the same rule
as scrub/rows.key_sql); numbers without a key are not in these tables (a scrub judges those
rows one by one). Stores made before schema version 2 are backfilled when first opened.
"""

from __future__ import annotations

import sqlite3

from reachguard.state import CHANNEL_BITS

VERSION = 2  # the store schema version that added these tables (sqlite_schema.SCHEMA_VERSION >= this)


def key_sql(number: str) -> str:
    """SQLite: the integer key of a stored E.164 number, NULL if it has none (see module docstring)."""
    return (f"CASE WHEN {number} GLOB '+[1-9]*' AND length({number}) <= 19 AND NOT substr({number}, 2) GLOB '*[^0-9]*' "
            f"THEN CAST(substr({number}, 2) AS INTEGER) END")


KINDS = ("opt_out", "complaint")
# (column, kind, channel bit): opt_out_sms, opt_out_call, …, complaint_push
COLUMNS = [(f"{kind}_{channel}", kind, bit) for kind in KINDS for channel, bit in CHANNEL_BITS.items()]


def column(kind: str, channel: str) -> str:
    """The opt_out_keys column with the newest `at` of this kind (opt_out|complaint) on this channel."""
    return f"{kind}_{channel}"


def _newest(kind: str, bit: int, row: str = "") -> str:
    """`at` if the opt-out row counts for (kind, channel), else NULL."""
    is_kind = f"{row}kind = 'complaint'" if kind == "complaint" else f"{row}kind IS NOT 'complaint'"
    return f"CASE WHEN {is_kind} AND ({row}channels & {bit}) != 0 THEN {row}at END"


_COLS = ", ".join(name for name, _, _ in COLUMNS)
TABLES = (
    "CREATE TABLE IF NOT EXISTS dnc_keys(list TEXT NOT NULL, key INTEGER NOT NULL, PRIMARY KEY(list, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS opt_out_keys(org TEXT NOT NULL, key INTEGER NOT NULL, "
    + ", ".join(f"{name} REAL" for name, _, _ in COLUMNS) + ", PRIMARY KEY(org, key)) WITHOUT ROWID",
)


def _refresh(row: str) -> str:
    """Recompute the opt_out_keys row of `row`'s (org, number) from opt_outs (after a delete or update)."""
    key = key_sql(f"{row}.number")
    aggregates = ", ".join(f"max({_newest(kind, bit)})" for _, kind, bit in COLUMNS)
    return (f"DELETE FROM opt_out_keys WHERE org = coalesce({row}.org, '') AND key = {key}; "
            f"INSERT INTO opt_out_keys(org, key, {_COLS}) SELECT coalesce({row}.org, ''), {key}, {aggregates} "
            f"FROM opt_outs WHERE number = {row}.number AND org IS {row}.org AND {key} IS NOT NULL GROUP BY number;")


def _upsert_new() -> str:
    """Fold one inserted opt_out row into its opt_out_keys row (the newest `at` per column)."""
    values = ", ".join(_newest(kind, bit, "NEW.") for _, kind, bit in COLUMNS)
    updates = ", ".join(
        f"{name} = CASE WHEN excluded.{name} IS NULL THEN {name} "
        f"WHEN {name} IS NULL OR excluded.{name} > {name} THEN excluded.{name} ELSE {name} END"
        for name, _, _ in COLUMNS)
    return (f"INSERT INTO opt_out_keys(org, key, {_COLS}) VALUES (coalesce(NEW.org, ''), {key_sql('NEW.number')}, {values}) "
            f"ON CONFLICT(org, key) DO UPDATE SET {updates};")


_DNC_ADD = "INSERT OR IGNORE INTO dnc_keys(list, key) SELECT {r}.list, {k} WHERE {k} IS NOT NULL;"
_DNC_DROP = "DELETE FROM dnc_keys WHERE list = {r}.list AND key = {k};"

TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS dnc_keys_insert AFTER INSERT ON dnc BEGIN "
    f"{_DNC_ADD.format(r='NEW', k=key_sql('NEW.number'))} END",
    f"CREATE TRIGGER IF NOT EXISTS dnc_keys_delete AFTER DELETE ON dnc BEGIN "
    f"{_DNC_DROP.format(r='OLD', k=key_sql('OLD.number'))} END",
    f"CREATE TRIGGER IF NOT EXISTS dnc_keys_update AFTER UPDATE ON dnc BEGIN "
    f"{_DNC_DROP.format(r='OLD', k=key_sql('OLD.number'))} {_DNC_ADD.format(r='NEW', k=key_sql('NEW.number'))} END",
    f"CREATE TRIGGER IF NOT EXISTS opt_out_keys_insert AFTER INSERT ON opt_outs WHEN {key_sql('NEW.number')} IS NOT NULL "
    f"BEGIN {_upsert_new()} END",
    f"CREATE TRIGGER IF NOT EXISTS opt_out_keys_delete AFTER DELETE ON opt_outs BEGIN {_refresh('OLD')} END",
    f"CREATE TRIGGER IF NOT EXISTS opt_out_keys_update AFTER UPDATE ON opt_outs BEGIN {_refresh('OLD')} {_refresh('NEW')} END",
)

# The key tables computed from scratch: the backfill, and what tests compare the maintained tables with.
DNC_KEYS_SQL = f"SELECT DISTINCT list, {key_sql('number')} AS k FROM dnc WHERE k IS NOT NULL"
OPT_OUT_KEYS_SQL = (
    f"SELECT coalesce(org, '') AS o, {key_sql('number')} AS k, "
    + ", ".join(f"max({_newest(kind, bit)})" for _, kind, bit in COLUMNS)
    + " FROM opt_outs WHERE k IS NOT NULL GROUP BY o, k"
)


def ensure(db: sqlite3.Connection) -> None:
    """Create the key tables and triggers; backfill them in a store older than VERSION.

    Runs inside the store's opening transaction (BEGIN IMMEDIATE), so two processes opening an
    old store together backfill it once."""
    for statement in TABLES + TRIGGERS:
        db.execute(statement)
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is not None and int(row[0]) >= VERSION:
        return
    db.execute("DELETE FROM dnc_keys")
    db.execute("DELETE FROM opt_out_keys")
    db.execute(f"INSERT INTO dnc_keys(list, key) {DNC_KEYS_SQL} ORDER BY 1, 2")
    db.execute(f"INSERT INTO opt_out_keys(org, key, {_COLS}) {OPT_OUT_KEYS_SQL} ORDER BY 1, 2")
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(VERSION),))
