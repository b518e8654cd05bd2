"""Calendar arithmetic in a time zone: local days, time-of-day windows."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = timezone.utc

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Every time the contract accepts lies in [EARLIEST, LATEST). Python's datetime ends at year
9999 (and starts at year 1) in every zone: a time near either end passed decode, then overflowed
in the rules (a cooldown, the end of a quiet-hours window, local time in +14:00) or, once stored,
in every later read of that number. Contacts, consents and their expiry all fall well inside."""
OUT_OF_RANGE = "Time out of range"
"""The start of the message for a time outside the range (events.validation_code maps it to INVALID_TIME)."""


def range_problem(moment: datetime, name: str = "time") -> str | None:
    """Why an aware time cannot be used, or None when it can."""
    # No offset (at most a day) reaches a bound from these years. The aware comparisons below,
    # made on every event, took bench/decode.py's typed decode from 1.02 to 5.19 µs per attempt.
    if EARLIEST.year < moment.year < LATEST.year - 1:
        return None
    if EARLIEST <= moment < LATEST:
        return None
    return (f"{OUT_OF_RANGE}: `{name}` is {moment.isoformat()}; times must lie between "
            f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")


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
