"""Quiet hours per purpose, in the profile's zone (cn) or every zone of the recipient (us).

Cited: 催收工作指引 22:00–08:00 (cn collection); 47 CFR 64.1200(c)(1) and 15 U.S.C. 1692c(a)(1)
(us, 08:00–21:00 local). A number that spans zones gets the most restrictive window.
"""

from __future__ import annotations

from datetime import datetime

from reachguard.policy.schema import Policy
from reachguard.rules.base import Context, Hit, reason, rule
from reachguard.timeutil import in_window, window_end


def _inert(policy: Policy, purpose: str, channel: str) -> bool:
    window = policy.for_purpose(purpose).quiet_hours
    return window is None or (window.channels is not None and channel not in window.channels)


@rule("quiet_hours", purposes=("marketing", "collection", "service"), time_based=True, inert=_inert)
def quiet_hours(ctx: Context, at: datetime) -> Hit | None:
    window = ctx.policy.for_purpose(ctx.purpose).quiet_hours
    if window is None or (window.channels is not None and ctx.channel not in window.channels):
        return None
    latest_end: datetime | None = None
    for zone in ctx.zones:
        local = at.astimezone(zone)
        if in_window(local.time(), window.start, window.end):
            end = window_end(local, window.start, window.end)
            if latest_end is None or end > latest_end:
                latest_end = end
    if latest_end is None:
        return None
    message = (
        f"{ctx.purpose} contact is not allowed between {window.start:%H:%M} and {window.end:%H:%M} "
        f"({latest_end.tzinfo}) "
    ).rstrip()
    return Hit(reason(ctx, "QUIET_HOURS", message, f"quiet_hours_{ctx.purpose}"), retry_at=latest_end)
