"""Frequency caps: at most N allowed contacts in D calendar days, per number or per debt.

Windows are calendar days in the governing zone (today and the D-1 days before), so a cap
clears at a local midnight; the engine then moves past any quiet hours. Numbers come from
the profile (cn: 6 collection calls/day, 2 SMS/day and 7 per 7 days; marketing 1/day,
4 per 30 days; us: Regulation F 7 calls per 7 days per debt).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from reachguard.policy.schema import Cap, Policy
from reachguard.rules.base import Context, Hit, reason, rule
from reachguard.state import ContactRecord
from reachguard.timeutil import local_day, start_of_day


def _inert(policy: Policy, purpose: str, channel: str) -> bool:
    """No cap counts this channel (or there is none)."""
    return all(cap.channels is not None and channel not in cap.channels for cap in policy.for_purpose(purpose).caps)


def _passes_blank(policy: Policy, purpose: str) -> bool:
    """Nothing counted yet: only a cap of 0 can be reached."""
    return all(cap.max != 0 for cap in policy.for_purpose(purpose).caps)


@rule("frequency", purposes=("marketing", "collection", "service"), time_based=True, inert=_inert, passes_blank=_passes_blank)
def frequency_caps(ctx: Context, at: datetime) -> Hit | None:
    caps = ctx.policy.for_purpose(ctx.purpose).caps
    if not caps:
        return None
    if not ctx.state.contacts and not ctx.state.subject_contacts:
        for cap in caps:
            if cap.max == 0:
                break
        else:
            return None  # nothing counted yet (most numbers of a campaign): only a cap of 0 can be reached
    zone = ctx.zones[0]
    today = at.astimezone(zone).date()
    exceeded: list[str] = []
    clears: datetime | None = None
    permanent = False
    for cap in caps:
        if not _applies(cap, ctx):
            continue
        days = _contact_days(cap, ctx, zone, today - timedelta(days=cap.days - 1))
        if len(days) < cap.max:
            continue
        exceeded.append(f"{cap.name}: {len(days)} of {cap.max}")
        if cap.max == 0:
            permanent = True
            continue
        clear_day = sorted(days, reverse=True)[cap.max - 1] + timedelta(days=cap.days)
        moment = start_of_day(clear_day, zone)
        clears = moment if clears is None or moment > clears else clears
    if not exceeded:
        return None
    message = "frequency cap reached (" + "; ".join(exceeded) + ")"
    citation = "cap_collection" if ctx.purpose == "collection" else "cap_marketing"
    return Hit(reason(ctx, "FREQUENCY_CAP", message, citation), retry_at=None if permanent else clears)


def _applies(cap: Cap, ctx: Context) -> bool:
    if cap.channels is not None and ctx.channel not in cap.channels:
        return False
    if cap.relations is not None and ctx.relation not in cap.relations:
        return False
    return cap.per == "number" or ctx.attempt.subject is not None


def _contact_days(cap: Cap, ctx: Context, zone, first_day: date) -> list[date]:
    pool: list[ContactRecord] = ctx.state.subject_contacts if cap.per == "subject" else ctx.state.contacts
    days = []
    for contact in pool:
        if contact.purpose != ctx.purpose:
            continue
        if cap.channels is not None and contact.channel not in cap.channels:
            continue
        if cap.relations is not None and contact.relation not in cap.relations:
            continue
        if cap.per == "subject" and contact.subject != ctx.attempt.subject:
            continue
        day = local_day(contact.at, zone)
        if day >= first_day:
            days.append(day)
    return days
