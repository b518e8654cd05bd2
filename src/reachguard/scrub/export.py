"""The store's state as sets DuckDB can join: which numbers are listed, opted out, consented…

Why this shape: each table is reduced *inside SQLite* to exactly what one rule needs for this
org, purpose, channel and time, as typed rows (`queries`). A file store is read by a child
process through ADBC straight into Arrow (`export_child.py`: no Python object per row, and off
this process's GIL and SQLite locks); an in-memory store through its own connection (`export`).
Only the comparisons that need no time arithmetic are done here; anything subtler (an opt-out
followed by a new consent, contacts dated after `--at`) is left to features.py or marks the
number for the engine's own row-by-row judgement.

What each rule needs (rules/*.py), for the marketing and service paths:
  dnc          numbers on a list that stops this purpose for this org (policy + own lists):
               the ranges of the store's `dnc_keys` for those lists
  opt_out      numbers with an opt-out (or complaint, if the policy counts them) covering the
               channel, with its newest time (a later consent lifts it): two ranges of the
               store's `opt_out_keys` — every org's (`''`) and this org's — each with one row
               per number, so DuckDB joins them without grouping
  consent      the status of the newest consent record of this org covering the channel:
               W(ithdrawn), E(xpired at --at) or A(ctive) — newest by (at, seq), as the rule —
               and its time
  frequency    per contact of this org and purpose: a bit per per-number cap it counts for,
               and a bit for "dated after --at"
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from reachguard.policy.schema import Cap, Policy
from reachguard.rules import rules_for
from reachguard.rules.lists import own_lists
from reachguard.state import CHANNEL_BITS
from reachguard.store import sqlite_keys
from reachguard.timeutil import local_day, start_of_day

DAY = 86_400.0
FUTURE_BIT = 30
# Times travel as integer microseconds: exact for every time an event can carry (datetime has
# microsecond resolution) and order-preserving, so "consent after the opt-out" compares right.
_MICROS = "CAST(round(at * 1000000) AS INTEGER)"
# A stored number's integer key (scrub/rows.py), computed by SQLite exactly as rows.key_sql
# does for the list (the store's rule, sqlite_keys.key_sql). Anything else gets 0, a key no
# list row has (list keys are >= 1, or negative for numbers the engine judges one by one).
_KEY = f"coalesce({sqlite_keys.key_sql('number')}, 0)"
# The rules the set-based path knows how to reduce to features. If the engine ever registers
# another rule for a purpose, that purpose falls back to row-by-row judgement (never drifts).
SET_BASED_RULES = {"marketing": {"consent", "opt_out", "dnc", "quiet_hours", "frequency"},
                   "service": {"quiet_hours", "frequency"}}


@dataclass(slots=True)
class ExportPlan:
    """What to read for one scrub: derived from the policy, the purpose, the channel and --at."""

    org: str
    purpose: str
    channel: str
    at_ts: float
    rule_names: set[str]
    lists: list[str] = field(default_factory=list)
    complaints_count: bool = True
    caps: list[Cap] = field(default_factory=list)  # per-number caps, in policy order
    cap_starts: list[float] = field(default_factory=list)
    since: float = float("inf")
    subject_caps: bool = False  # a per-subject cap exists: rows naming a subject go row by row
    contacts_exact: bool = False  # contacts cannot be reduced (recipient zones): such rows go row by row

    @property
    def set_based(self) -> bool:
        return self.rule_names <= SET_BASED_RULES.get(self.purpose, set())


def plan_for(policy: Policy, org: str, purpose: str, channel: str, at: datetime) -> ExportPlan:
    at_ts = at.timestamp()
    plan = ExportPlan(org, purpose, channel, at_ts, {rule.name for rule in rules_for(purpose)})
    if not plan.set_based:
        return plan
    if purpose == "marketing":
        plan.lists = sorted(set(policy.marketing.deny_lists) | own_lists(org))
        plan.complaints_count = policy.marketing.complaint_opts_out
    caps = policy.for_purpose(purpose).caps
    plan.subject_caps = any(cap.per == "subject" for cap in caps)
    plan.caps = [cap for cap in caps if cap.per == "number"]
    if caps:
        plan.since = at_ts - (max(cap.days for cap in caps) + 1) * DAY  # state_query.state_query
    if policy.timezone == "recipient":
        plan.contacts_exact = True
        return plan
    zone = ZoneInfo(policy.timezone)
    today = at.astimezone(zone).date()
    for cap in plan.caps:
        first_day = today - timedelta(days=cap.days - 1)
        start = start_of_day(first_day, zone).timestamp()
        # "local day >= first_day" is "at >= start" only if start really is that day's first instant.
        if local_day(start, zone) != first_day or local_day(start - 0.001, zone) >= first_day:
            plan.contacts_exact = True
        plan.cap_starts.append(start)
    return plan


@dataclass(frozen=True, slots=True)
class Query:
    """One table to read: its SQL (for SQLite), parameters, and the Arrow schema of its rows."""

    name: str
    sql: str
    params: tuple
    schema: pa.Schema
    keyed_here: bool = False  # the first column is the stored number, keyed after the fetch (`finish`)


def queries(plan: ExportPlan) -> list[Query]:
    """What each rule needs, as typed rows: rg_dnc(key), rg_optout(key, micros) and
    rg_optout_org(key, micros) (every org's and this org's: one row per key in each),
    rg_consent(key, status, micros, seq), rg_contact(key, flags) — `key` is the number's (_KEY)."""
    found: list[Query] = []
    bit = CHANNEL_BITS[plan.channel]
    text, whole = pa.string(), pa.int64()
    if "dnc" in plan.rule_names:
        marks = ",".join("?" for _ in plan.lists)
        found.append(Query("rg_dnc", f"SELECT key FROM dnc_keys WHERE list IN ({marks})", tuple(plan.lists),
                           pa.schema([("key", whole)])))
    if "opt_out" in plan.rule_names:
        # the newest of the columns that count (SQLite's max(a, b) is NULL if either is)
        cols = [sqlite_keys.column(kind, plan.channel) for kind in ("opt_out", "complaint")[:1 + plan.complaints_count]]
        newest = cols[0] if len(cols) == 1 else f"max(coalesce({cols[0]}, {cols[1]}), coalesce({cols[1]}, {cols[0]}))"
        micros = f"CAST(round({newest} * 1000000) AS INTEGER)"
        for name, scope in (("rg_optout", ""), ("rg_optout_org", plan.org)):
            found.append(Query(name, f"SELECT key, {micros} AS micros FROM opt_out_keys WHERE org = ? AND {newest} IS NOT NULL",
                               (scope,), pa.schema([("key", whole), ("micros", whole)])))
    if "consent" in plan.rule_names:
        # Every record, not just the newest: DuckDB picks the newest by (at, seq) (features.py).
        # The number is keyed in Arrow after the fetch: SQLite's GLOB checks and cast cost about
        # as much as reading the row (1M consents: 1.0-1.2 s against 0.65 s of CPU, measured).
        found.append(Query(
            "rg_consent",
            f"SELECT number AS key, CASE WHEN withdrawn THEN 'W' WHEN expires_at IS NOT NULL AND expires_at <= ? THEN 'E' ELSE 'A' END "
            f"AS status, {_MICROS} AS micros, seq FROM consents WHERE org = ? AND (channels & ?) != 0",
            (plan.at_ts, plan.org, bit), pa.schema([("key", whole), ("status", text), ("micros", whole), ("seq", whole)]),
            keyed_here=True))
    if "frequency" in plan.rule_names and (plan.caps or plan.subject_caps):
        terms = [f"((at > ?) << {FUTURE_BIT})"]
        params: list[object] = [plan.at_ts]
        for index, (cap, start) in enumerate(zip(plan.caps, plan.cap_starts or [0.0] * len(plan.caps))):
            cond = "at >= ?"
            params.append(start)
            if cap.channels is not None:
                cond += f" AND channel IN ({','.join('?' for _ in cap.channels)})"
                params.extend(cap.channels)
            if cap.relations is not None:
                cond += f" AND relation IN ({','.join('?' for _ in cap.relations)})"
                params.extend(cap.relations)
            terms.append(f"(({cond}) << {index})")
        params.extend([plan.org, plan.purpose, plan.since])
        found.append(Query(
            "rg_contact",
            f"SELECT {_KEY} AS key, ({' | '.join(terms)}) AS flags FROM contacts WHERE org = ? AND purpose = ? AND at >= ?",
            tuple(params), pa.schema([("key", whole), ("flags", whole)])))
    return found


def typed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The rows with the query's schema (SQLite's types are per value: an empty result has none)."""
    return table.rename_columns(schema.names).cast(schema)


# A stored number's integer key (the rule of sqlite_keys.key_sql and rows.key_sql): `+`, a
# first digit 1-9, at most 18 digits in all; anything else gets 0, a key no list row has.
# Computed by Arrow on fetched numbers (`arrow_key`): cheaper than SQLite's GLOB checks and cast,
# and than PostgreSQL's regex (~1 us a row on one server core; docs/scrub.md).
KEY_RE = r"^\+[1-9][0-9]*$"


def arrow_key(numbers: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The integer key of each stored number (0: none), in Arrow's C++ kernels."""
    ok = pc.fill_null(pc.and_(pc.less_equal(pc.utf8_length(numbers), 19), pc.match_substring_regex(numbers, KEY_RE)), False)
    return pc.cast(pc.if_else(ok, pc.utf8_slice_codeunits(numbers, 1), "0"), pa.int64())


def finish(table: pa.Table, query: Query) -> pa.Table:
    """A fetched table as the query promises it: keyed (`keyed_here`) and typed."""
    if query.keyed_here:
        table = table.set_column(0, query.schema.names[0], arrow_key(table.column(0).cast(pa.string())))
    return typed(table, query.schema)


def export(db: sqlite3.Connection, plan: ExportPlan) -> dict[str, pa.Table]:
    """The tables through `db` itself, one Python tuple per row: for in-memory stores only
    (small by nature); file stores are read by `export_child` at C speed."""
    tables: dict[str, pa.Table] = {}
    for query in queries(plan):
        rows = db.execute(query.sql, query.params).fetchall()
        columns = list(zip(*rows)) if rows else [[] for _ in query.schema]
        types = [pa.string() if query.keyed_here and i == 0 else f.type for i, f in enumerate(query.schema)]
        tables[query.name] = finish(pa.table([pa.array(list(col), t) for col, t in zip(columns, types)],
                                             names=query.schema.names), query)
    return tables
