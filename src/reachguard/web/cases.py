"""The complaints queue: a case per complaint in the org's ledger, with working-day deadlines.

Complaints arrive as contract events (`complaint`, or an `inbound_sms` that says 投诉) and are
in the org's ledger; `sync` opens a case for each one after the last ledger entry it looked
at, so a page view reads only what is new. Deadlines follow the MIIT complaint timelines by
default (acknowledge within 3 working days, resolve within 15; settings
`complaint_ack_working_days`, `complaint_resolve_working_days`): working days are Monday to
Friday in the org's zone, the day of receipt not counted; public holidays are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from reachguard.inbound import classify_reply
from reachguard.store.base import ComplaintCase, Store

STATUSES = ("new", "acknowledged", "resolved")
_CURSOR = "complaint_cases_synced:"
_PAGE = 2000
_json = msgspec.json.Decoder(dict)


def add_working_days(start: datetime, days: int) -> datetime:
    """The end (23:59:59) of the `days`-th working day after `start`'s day."""
    day = start.date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.combine(day, dtime(23, 59, 59), start.tzinfo)


def new_complaints(store: Store, org: str) -> tuple[list[ComplaintCase], int]:
    """(cases for complaints after the cursor, the seq read up to). Reads only."""
    head = store.ledger_head(org)
    last = int(store.get_meta(_CURSOR + org) or 0)
    found: list[ComplaintCase] = []
    if head is None or head[0] <= last:
        return found, last
    seq = last
    while seq < head[0]:
        upper = min(head[0], seq + _PAGE)
        for entry in store.ledger_range(org, seq + 1, upper):
            if entry.kind not in ("complaint", "inbound_sms"):
                continue
            body = _json.decode(entry.body)
            text = body.get("text")
            if entry.kind == "inbound_sms" and classify_reply(str(text or "")) != "complaint":
                continue
            found.append(ComplaintCase(org, entry.seq, entry.number, entry.at, text))
        seq = upper
    return found, head[0]


def save_sync(store: Store, org: str, cases: list[ComplaintCase], upto: int) -> None:
    """Open the cases and move the cursor (never backwards): run on the writer thread."""
    if cases:
        store.complaint_cases_add(cases)
    if upto > int(store.get_meta(_CURSOR + org) or 0):
        store.set_meta(_CURSOR + org, str(upto))


@dataclass(frozen=True, slots=True)
class CaseView:
    case: ComplaintCase
    received: datetime
    ack_due: datetime
    resolve_due: datetime
    ack_overdue: bool
    resolve_overdue: bool


def view(case: ComplaintCase, zone: ZoneInfo, ack_days: int, resolve_days: int, now: float) -> CaseView:
    received = datetime.fromtimestamp(case.at, zone)
    ack_due = add_working_days(received, ack_days)
    resolve_due = add_working_days(received, resolve_days)
    acked = case.acknowledged_at if case.acknowledged_at is not None else now
    resolved = case.resolved_at if case.resolved_at is not None else now
    return CaseView(case, received, ack_due, resolve_due, acked > ack_due.timestamp(), resolved > resolve_due.timestamp())
