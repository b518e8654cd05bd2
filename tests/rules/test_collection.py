"""Account-bound collection rules (rules/collection.py): subject, stage, wrong number, cooldown."""

from worldkit import BORROWER, World, codes


def test_collection_needs_a_known_account(world: World) -> None:
    decision = world.collect("2026-11-23T10:00:00+08:00", subject="NOPE")
    assert decision.verdict == "deny"
    assert codes(decision) == ["UNKNOWN_SUBJECT"]


def test_collection_without_subject_is_unknown(world: World) -> None:
    world.account(dpd=10)
    decision = world.attempt("2026-11-23T10:00:00+08:00", purpose="collection", channel="call", to=BORROWER)
    assert codes(decision) == ["UNKNOWN_SUBJECT"]


def test_account_of_another_org_is_unknown(world: World) -> None:
    world.account(dpd=10)
    assert codes(world.collect("2026-11-23T10:00:00+08:00", org="other")) == ["UNKNOWN_SUBJECT"]


def test_stage_zero_days_past_due_only_service(world: World) -> None:
    world.account(dpd=0)
    assert codes(world.collect("2026-11-23T10:00:00+08:00", channel="sms")) == ["STAGE_NOT_ALLOWED"]
    assert world.attempt("2026-11-23T10:00:00+08:00", purpose="service", to=BORROWER, subject="L1").verdict == "allow"


def test_stage_one_to_three_sms_push_but_no_calls(world: World) -> None:
    world.account(dpd=3)
    assert world.collect("2026-11-23T10:00:00+08:00", channel="sms").verdict == "allow"
    assert world.collect("2026-11-23T10:00:00+08:00", channel="push").verdict == "allow"
    denied = world.collect("2026-11-23T10:00:00+08:00", channel="call")
    assert codes(denied) == ["STAGE_NOT_ALLOWED"]
    assert "from 4 days" in denied.reasons[0].message


def test_stage_four_allows_calls_and_account_update_applies(world: World) -> None:
    world.account(dpd=3)
    assert world.collect("2026-11-23T10:00:00+08:00").verdict == "deny"
    world.account(dpd=4, at="2026-11-24T00:10:00+08:00")
    assert world.collect("2026-11-24T10:00:00+08:00").verdict == "allow"


def test_wrong_number_stops_collection_for_that_subject(world: World) -> None:
    world.account(dpd=10)
    world.send(type="account", org="acme", subject="L2", borrower=BORROWER, at="2026-11-01T10:00:00+08:00", days_past_due=10)
    world.send(type="outcome", org="acme", to=BORROWER, subject="L1", result="wrong_number", at="2026-11-22T10:00:00+08:00")
    assert codes(world.collect("2026-11-23T10:00:00+08:00")) == ["WRONG_NUMBER"]
    assert world.collect("2026-11-23T10:00:00+08:00", subject="L2").verdict == "allow"


def test_conversation_starts_a_call_cooldown(world: World) -> None:
    world.account(dpd=10)
    world.send(type="outcome", org="acme", to=BORROWER, subject="L1", result="conversation", at="2026-11-23T10:00:00+08:00")
    decision = world.collect("2026-11-23T15:00:00+08:00")
    assert decision.verdict == "defer"
    assert codes(decision) == ["COOLDOWN"]
    assert decision.retry_at.isoformat() == "2026-11-24T10:00:00+08:00"
    assert world.collect("2026-11-23T15:00:00+08:00", channel="sms").verdict == "allow"
    assert world.collect("2026-11-24T10:00:00+08:00").verdict == "allow"


def test_us_no_call_within_seven_days_of_a_conversation(us_world: World) -> None:
    number = "+1 212 555 0134"
    us_world.account(dpd=30, borrower=number)
    us_world.send(type="outcome", org="acme", to=number, subject="L1", result="conversation", at="2026-11-16T10:00:00-05:00")
    decision = us_world.collect("2026-11-23T09:59:59-05:00", to=number)
    assert codes(decision) == ["COOLDOWN"]
    assert "1006.14(b)(2)(ii)" in decision.reasons[0].citation
    assert us_world.collect("2026-11-23T10:00:00-05:00", to=number).verdict == "allow"


def test_deny_beats_defer_when_reasons_mix(world: World) -> None:
    world.account(dpd=2)
    decision = world.collect("2026-11-23T23:00:00+08:00", channel="call")
    assert decision.verdict == "deny"
    assert codes(decision) == ["STAGE_NOT_ALLOWED", "QUIET_HOURS"]
    assert decision.retry_at is None
