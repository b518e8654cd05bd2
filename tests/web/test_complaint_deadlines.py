"""Working-day deadlines of the complaints queue."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reachguard.store.base import ComplaintCase
from reachguard.web.cases import add_working_days, view

ZONE = ZoneInfo("Asia/Shanghai")


def test_working_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=ZONE)
    assert add_working_days(friday, 3) == datetime(2026, 11, 25, 23, 59, 59, tzinfo=ZONE)  # Mon, Tue, Wed
    assert add_working_days(friday, 15).date().isoformat() == "2026-12-11"
    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=ZONE)
    assert add_working_days(saturday, 1).date().isoformat() == "2026-11-23"


def test_overdue_until_acknowledged_or_resolved_in_time() -> None:
    received = datetime(2026, 11, 20, 16, 0, tzinfo=ZONE).timestamp()
    late = datetime(2026, 11, 26, 9, 0, tzinfo=ZONE).timestamp()
    case = ComplaintCase("acme", 1, "+8613800138000", received, "x")
    assert view(case, ZONE, 3, 15, late).ack_overdue
    assert not view(case, ZONE, 3, 15, late).resolve_overdue
    acked = ComplaintCase("acme", 1, None, received, "x", "acknowledged", acknowledged_at=received + 3600)
    assert not view(acked, ZONE, 3, 15, late).ack_overdue
