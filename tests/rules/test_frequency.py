"""Frequency caps (rules/frequency.py): the 6th vs the 7th call, day and window rollover."""

from worldkit import World, codes


def test_sixth_collection_call_allowed_seventh_deferred_to_next_morning(world: World) -> None:
    world.account(dpd=10)
    for minute in range(6):
        assert world.collect(f"2026-11-23T10:0{minute}:00+08:00").verdict == "allow"
    seventh = world.collect("2026-11-23T10:07:00+08:00")
    assert seventh.verdict == "defer"
    assert codes(seventh) == ["FREQUENCY_CAP"]
    # The cap clears at midnight, inside quiet hours: the answer is the end of quiet hours.
    assert seventh.retry_at.isoformat() == "2026-11-24T08:00:00+08:00"
    assert world.collect("2026-11-24T08:00:00+08:00").verdict == "allow"


def test_denied_attempts_do_not_count(world: World) -> None:
    world.account(dpd=10)
    for _ in range(3):
        assert world.collect("2026-11-23T23:00:00+08:00").verdict == "defer"
    for minute in range(6):
        assert world.collect(f"2026-11-24T10:0{minute}:00+08:00").verdict == "allow"


def test_collection_sms_two_per_day_and_seven_per_seven_days(world: World) -> None:
    world.account(dpd=2)
    day = 17
    sent = 0
    while sent < 7:
        for hour in (10, 11):
            if sent < 7:
                assert world.collect(f"2026-11-{day}T{hour}:00:00+08:00", channel="sms").verdict == "allow"
                sent += 1
        third = world.collect(f"2026-11-{day}T12:00:00+08:00", channel="sms")
        if sent < 7:
            assert codes(third) == ["FREQUENCY_CAP"]
        day += 1
    # 7 sent over 17th-20th (2+2+2+1): the 7-day window (20th back to 14th) is full.
    blocked = world.collect("2026-11-21T10:00:00+08:00", channel="sms")
    assert blocked.verdict == "defer"
    # Two SMS of the 17th leave the window on the 24th (window 18th-24th holds 5).
    assert blocked.retry_at.isoformat() == "2026-11-24T08:00:00+08:00"
    assert world.collect("2026-11-24T08:00:00+08:00", channel="sms").verdict == "allow"


def test_marketing_one_per_day_four_per_thirty_days(world: World) -> None:
    world.consent()
    for day in (1, 2, 3, 4):
        assert world.attempt(f"2026-11-{day:02d}T10:00:00+08:00").verdict == "allow"
    blocked = world.attempt("2026-11-05T10:00:00+08:00", channel="call")  # across channels
    assert codes(blocked) == ["FREQUENCY_CAP"]
    # The 1st leaves the 30-day window on the 31st (Dec 1st); quiet hours end at 09:00.
    assert blocked.retry_at.isoformat() == "2026-12-01T09:00:00+08:00"
    assert world.attempt("2026-11-30T23:59:59+08:00").verdict == "defer"
    assert world.attempt("2026-12-01T09:00:00+08:00").verdict == "allow"


def test_caps_are_per_org(world: World) -> None:
    world.consent()
    world.consent(org="other")
    assert world.attempt("2026-11-23T10:00:00+08:00").verdict == "allow"
    assert world.attempt("2026-11-23T10:05:00+08:00", org="other").verdict == "allow"


def test_day_rolls_over_at_shanghai_midnight(world: World) -> None:
    world.consent()
    assert world.attempt("2026-11-23T20:59:00+08:00").verdict == "allow"
    # 16:30 UTC on the 23rd is 00:30 on the 24th in Shanghai: a new day, but quiet hours.
    decision = world.attempt("2026-11-23T16:30:00+00:00")
    assert codes(decision) == ["QUIET_HOURS"]
    assert world.attempt("2026-11-24T09:00:00+08:00").verdict == "allow"


def test_us_regulation_f_seven_calls_per_debt_in_seven_days(us_world: World) -> None:
    number = "+1 212 555 0134"
    us_world.account(dpd=30, borrower=number)
    for day in range(16, 23):
        assert us_world.collect(f"2026-11-{day}T10:00:00-05:00", to=number).verdict == "allow"
    blocked = us_world.collect("2026-11-22T15:00:00-05:00", to=number)
    assert codes(blocked) == ["FREQUENCY_CAP"]
    assert "12 CFR 1006.14" in blocked.reasons[0].citation
    assert blocked.retry_at.isoformat() == "2026-11-23T08:00:00-05:00"


def test_a_cap_of_zero_denies_the_first_contact(tmp_path) -> None:
    """With no contact recorded yet the rule takes a shortcut; a cap of 0 must still bite (never retried)."""
    from reachguard.policy import load_policy_file

    policy = tmp_path / "policy.toml"
    policy.write_text('profile = "cn"\n[service]\ncaps = [{ name = "no service SMS", per = "number", channels = ["sms"], days = 1, max = 0 }]\n')
    world = World(load_policy_file(policy))
    blocked = world.attempt("2026-11-23T10:00:00+08:00", purpose="service")
    assert (blocked.verdict, codes(blocked), blocked.retry_at) == ("deny", ["FREQUENCY_CAP"], None)
    assert world.attempt("2026-11-23T10:00:00+08:00", purpose="service", channel="call").verdict == "allow"
