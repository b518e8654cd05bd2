"""Marketing consent and opt-outs (rules/consent.py)."""

from worldkit import PROSPECT, World, codes


def test_marketing_without_consent_is_denied(world: World) -> None:
    decision = world.attempt("2026-11-23T10:00:00+08:00")
    assert decision.verdict == "deny"
    assert codes(decision) == ["NO_CONSENT"]
    assert "31号" in decision.reasons[0].citation


def test_consent_allows_and_issues_a_verification_code(world: World) -> None:
    world.consent()
    decision = world.attempt("2026-11-23T10:00:00+08:00")
    assert decision.verdict == "allow"
    assert decision.reasons == []
    assert decision.verification_code is not None and len(decision.verification_code) == 8


def test_consent_is_per_org(world: World) -> None:
    world.consent()
    assert codes(world.attempt("2026-11-23T10:00:00+08:00", org="other")) == ["NO_CONSENT"]


def test_consent_is_per_channel(world: World) -> None:
    world.consent(channels=["sms"])
    assert world.attempt("2026-11-23T10:00:00+08:00", channel="sms").verdict == "allow"
    assert codes(world.attempt("2026-11-24T10:00:00+08:00", channel="call")) == ["NO_CONSENT"]


def test_consent_expiry_boundary(world: World) -> None:
    world.consent(expires_at="2026-11-23T10:00:00+08:00")
    assert world.attempt("2026-11-23T09:59:59+08:00").verdict == "allow"
    assert codes(world.attempt("2026-11-24T10:00:00+08:00")) == ["CONSENT_EXPIRED"]


def test_consent_expires_exactly_at_expires_at(world: World) -> None:
    world.consent(expires_at="2026-11-23T10:00:00+08:00")
    assert codes(world.attempt("2026-11-23T10:00:00+08:00")) == ["CONSENT_EXPIRED"]


def test_withdrawn_consent(world: World) -> None:
    world.consent()
    world.send(type="consent_withdrawn", org="acme", to=PROSPECT, at="2026-11-10T10:00:00+08:00")
    assert codes(world.attempt("2026-11-23T10:00:00+08:00")) == ["CONSENT_WITHDRAWN"]


def test_withdrawal_of_one_channel_keeps_the_others(world: World) -> None:
    world.consent()
    world.send(type="consent_withdrawn", org="acme", to=PROSPECT, at="2026-11-10T10:00:00+08:00", channels=["call"])
    assert codes(world.attempt("2026-11-23T10:00:00+08:00", channel="call")) == ["CONSENT_WITHDRAWN"]
    assert world.attempt("2026-11-23T10:00:00+08:00", channel="sms").verdict == "allow"


def test_opt_out_for_the_org_stops_marketing_at_once(world: World) -> None:
    world.consent()
    world.send(type="opt_out", to=PROSPECT, org="acme", at="2026-11-22T10:00:00+08:00")
    decision = world.attempt("2026-11-23T10:00:00+08:00")
    assert decision.verdict == "deny"
    assert codes(decision) == ["OPTED_OUT"]


def test_opt_out_without_org_applies_to_every_org(world: World) -> None:
    world.consent()
    world.consent(org="other")
    world.send(type="opt_out", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    assert codes(world.attempt("2026-11-23T10:00:00+08:00")) == ["OPTED_OUT"]
    assert codes(world.attempt("2026-11-23T10:00:00+08:00", org="other")) == ["OPTED_OUT"]


def test_opt_out_of_another_org_does_not_apply(world: World) -> None:
    world.consent()
    world.send(type="opt_out", to=PROSPECT, org="other", at="2026-11-22T10:00:00+08:00")
    assert world.attempt("2026-11-23T10:00:00+08:00").verdict == "allow"


def test_fresh_consent_after_opt_out_restores_marketing(world: World) -> None:
    world.send(type="opt_out", to=PROSPECT, org="acme", at="2026-11-02T10:00:00+08:00")
    world.consent(at="2026-11-20T10:00:00+08:00")
    assert world.attempt("2026-11-23T10:00:00+08:00").verdict == "allow"


def test_every_reason_is_reported(world: World) -> None:
    world.send(type="opt_out", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    world.send(type="dnc", list="national", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    decision = world.attempt("2026-11-23T22:00:00+08:00")
    assert decision.verdict == "deny"
    assert set(codes(decision)) == {"NO_CONSENT", "OPTED_OUT", "ON_DNC_LIST", "QUIET_HOURS"}
    assert decision.retry_at is None
    assert all(reason.message and reason.citation for reason in decision.reasons)


def test_complaint_naming_the_org_stops_its_marketing(world: World) -> None:
    world.consent()
    world.send(type="complaint", to=PROSPECT, org="acme", at="2026-11-22T10:00:00+08:00", text="天天发短信")
    assert codes(world.attempt("2026-11-23T10:00:00+08:00")) == ["OPTED_OUT"]


def test_service_messages_need_no_consent_and_ignore_opt_outs(world: World) -> None:
    world.send(type="opt_out", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    world.send(type="dnc", list="national", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    decision = world.attempt("2026-11-23T23:30:00+08:00", purpose="service")
    assert decision.verdict == "allow"
