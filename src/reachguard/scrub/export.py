"""The store's state as sets DuckDB can join: which numbers are listed, opted out, consented…

Why this shape: DuckDB cannot read SQLite here (its scanner is an extension, and extensions
cannot be downloaded offline), and pulling ten million rows through Python's sqlite3 cursor
costs a Python object per cell. Instead each table is reduced *inside SQLite* to exactly what
one rule needs for this org, purpose, channel and time, and concatenated there into one string
(`group_concat`, C speed), which Arrow splits back into a column. Only the comparisons that
need no time arithmetic are done here; anything subtler (an opt-out followed by a new consent,
contacts dated after `--at`) marks the number for the engine's own row-by-row judgement.

What each rule needs (rules/*.py), for the marketing and service paths:
  dnc          numbers on a list that stops this purpose for this org (policy + own lists)
  opt_out      numbers with an opt-out (or complaint, if the policy counts them) covering the
               channel, for every org or this one, with its time (a later consent lifts it)
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
from reachguard.timeutil import local_day, start_of_day

DAY = 86_400.0
FUTURE_BIT = 30
# Times travel as integer microseconds: exact for every time an event can carry (datetime has
# microsecond resolution) and order-preserving, so "consent after the opt-out" compares right.
_MICROS = "CAST(round(at * 1000000) AS INTEGER)"
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
        plan.since = at_ts - (max(cap.days for cap in caps) + 1) * DAY  # engine._query
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


def _strings(db: sqlite3.Connection, sql: str, params: tuple) -> pa.Array:
    """Run a `group_concat(…, char(10))` query and split its one string into an Arrow column."""
    text = db.execute(sql, params).fetchall()[0][0]
    if not text:
        return pa.array([], pa.large_string())
    return pc.split_pattern(pa.array([text], pa.large_string()), "\n").flatten()


def export(db: sqlite3.Connection, plan: ExportPlan) -> dict[str, pa.Table]:
    """Arrow tables rg_dnc(number), rg_optout("number:micros"), rg_consent("number:status:micros:seq"),
    rg_contact("number:flags")."""
    tables: dict[str, pa.Table] = {}
    bit = CHANNEL_BITS[plan.channel]
    if "dnc" in plan.rule_names:
        marks = ",".join("?" for _ in plan.lists)
        tables["rg_dnc"] = pa.table({"number": _strings(
            db, f"SELECT group_concat(number, char(10)) FROM dnc WHERE list IN ({marks})", tuple(plan.lists))})
    if "opt_out" in plan.rule_names:
        kinds = "kind = 'opt_out' OR kind = 'complaint'" if plan.complaints_count else "kind = 'opt_out'"
        tables["rg_optout"] = pa.table({"pair": _strings(
            db,
            f"SELECT group_concat(number || ':' || {_MICROS}, char(10)) FROM opt_outs "
            f"WHERE (org IS NULL OR org = ?) AND (channels & ?) != 0 AND ({kinds})",
            (plan.org, bit))})
    if "consent" in plan.rule_names:
        # Every record, not just the newest: SQLite's window functions are slow, DuckDB picks
        # the newest by (at, seq) in parallel (features.py).
        tables["rg_consent"] = pa.table({"pair": _strings(
            db,
            "SELECT group_concat(number || ':' || CASE WHEN withdrawn THEN 'W' "
            "WHEN expires_at IS NOT NULL AND expires_at <= ? THEN 'E' ELSE 'A' END "
            f"|| ':' || {_MICROS} || ':' || seq, char(10)) FROM consents WHERE org = ? AND (channels & ?) != 0",
            (plan.at_ts, plan.org, bit))})
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
        tables["rg_contact"] = pa.table({"pair": _strings(
            db,
            f"SELECT group_concat(number || ':' || ({' | '.join(terms)}), char(10)) FROM contacts "
            "WHERE org = ? AND purpose = ? AND at >= ?",
            tuple(params))})
    return tables
