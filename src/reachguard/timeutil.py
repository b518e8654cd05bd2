"""Calendar arithmetic in a time zone: local days, time-of-day windows."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = timezone.utc


def to_ts(moment: datetime) -> float:
    return moment.timestamp()


def from_ts(ts: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, zone)


@lru_cache(maxsize=1 << 14)
def local_day(ts: float, zone: ZoneInfo) -> date:
    """The calendar day a moment falls on in `zone`.

    Cached: the frequency caps ask it for every recorded contact, once per cap, per attempt
    and per step of the retry search; the contacts of a batch's numbers recur. A pure function
    of (ts, zone) — ZoneInfo objects compare by identity, and ZoneInfo(name) returns one per name."""
    return datetime.fromtimestamp(ts, zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of `day` (the first moment of that day, DST-safe)."""
    return datetime.combine(day, time(0), zone)


def in_window(clock: time, start: time, end: time) -> bool:
    """Is a local time inside [start, end)? A window with end < start wraps midnight."""
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def window_end(moment: datetime, start: time, end: time) -> datetime:
    """For a moment inside the window [start, end), the first moment after it (local `end`)."""
    local = moment
    candidate = datetime.combine(local.date(), end, local.tzinfo)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, local.tzinfo)
    return candidate
