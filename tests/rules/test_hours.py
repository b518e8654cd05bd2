"""Quiet hours (rules/hours.py), cn and us profiles."""

from datetime import datetime, timezone

from worldkit import World, codes


def test_collection_quiet_hours_boundaries(world: World) -> None:
    world.account(dpd=10)
    early = world.collect("2026-11-23T07:59:59+08:00")
    assert early.verdict == "defer"
    assert codes(early) == ["QUIET_HOURS"]
    assert early.retry_at.isoformat() == "2026-11-23T08:00:00+08:00"
    assert world.collect("2026-11-23T08:00:00+08:00").verdict == "allow"
    assert world.collect("2026-11-23T21:59:59+08:00").verdict == "allow"
    late = world.collect("2026-11-23T22:00:00+08:00")
    assert late.verdict == "defer"
    assert late.retry_at.isoformat() == "2026-11-24T08:00:00+08:00"


def test_quiet_hours_use_shanghai_time_whatever_the_offset_given(world: World) -> None:
    world.account(dpd=10)
    decision = world.collect("2026-11-23T15:30:00+00:00")  # 23:30 in Shanghai
    assert decision.verdict == "defer"
    assert decision.retry_at.isoformat() == "2026-11-24T08:00:00+08:00"


def test_marketing_quiet_hours_21_to_9(world: World) -> None:
    world.consent()
    assert codes(world.attempt("2026-11-23T08:59:59+08:00")) == ["QUIET_HOURS"]
    assert world.attempt("2026-11-23T09:00:00+08:00").verdict == "allow"
    assert world.attempt("2026-11-24T20:59:59+08:00").verdict == "allow"
    decision = world.attempt("2026-11-25T21:00:00+08:00")
    assert decision.retry_at.isoformat() == "2026-11-26T09:00:00+08:00"


def test_us_hours_follow_the_recipients_zone(us_world: World) -> None:
    new_york = "+1 212 555 0134"  # Manhattan, America/New_York
    us_world.consent(to=new_york)
    # 07:59 in New York (UTC-5 in November) is too early; 08:00 is fine.
    early = us_world.attempt("2026-11-23T12:59:00+00:00", to=new_york)
    assert codes(early) == ["QUIET_HOURS"]
    assert early.retry_at.isoformat() == "2026-11-23T08:00:00-05:00"
    assert us_world.attempt("2026-11-23T13:00:00+00:00", to=new_york).verdict == "allow"


def test_us_number_spanning_zones_gets_the_most_restrictive_window(us_world: World) -> None:
    toll_free = "+1 800 555 0199"  # toll-free: every US zone
    us_world.consent(to=toll_free)
    # 08:30 in New York is 03:30 in Hawaii and 23:30 in Guam: defer.
    decision = us_world.attempt("2026-11-23T13:30:00+00:00", to=toll_free)
    assert decision.verdict == "defer"
    # Hawaii (UTC-10) opens at 18:00 UTC, but Guam (UTC+10) is closed until 22:00 UTC, when
    # Hawaii is at 12:00 and New York at 17:00: the first moment every zone is inside 08-21.
    assert decision.retry_at == datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)
    assert us_world.attempt("2026-11-23T21:59:59+00:00", to=toll_free).verdict == "defer"
    assert us_world.attempt("2026-11-23T22:00:00+00:00", to=toll_free).verdict == "allow"
