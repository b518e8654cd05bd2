"""Third-party contacts (rules/third_party.py)."""

import pytest

from worldkit import BORROWER, CONTACT, World, codes


def _unreachable(world: World, days: tuple[int, ...] = (20, 21, 22), per_day: int = 2) -> None:
    for day in days:
        for hour in range(per_day):
            world.send(type="outcome", org="acme", to=BORROWER, subject="L1", result="no_answer",
                       at=f"2026-11-{day}T1{hour}:00:00+08:00")


@pytest.fixture
def tp_world(world: World) -> World:
    world.account(dpd=10, contacts=[{"to": CONTACT, "authorized": True, "name": "母亲"}])
    return world


def test_contact_allowed_once_borrower_is_unreachable(tp_world: World) -> None:
    _unreachable(tp_world)
    decision = tp_world.collect("2026-11-23T10:00:00+08:00", to=CONTACT, relation="contact")
    assert decision.verdict == "allow"


def test_contact_denied_while_borrower_is_reachable(tp_world: World) -> None:
    _unreachable(tp_world, days=(21, 22), per_day=3)  # 6 calls but on 2 days only
    decision = tp_world.collect("2026-11-23T10:00:00+08:00", to=CONTACT, relation="contact")
    assert codes(decision) == ["THIRD_PARTY_NOT_AUTHORIZED"]
    assert "6 unanswered calls over 2 days" in decision.reasons[0].message


def test_five_unanswered_calls_are_not_enough(tp_world: World) -> None:
    _unreachable(tp_world, days=(20, 21, 22), per_day=2)
    tp_world.send(type="outcome", org="acme", to=BORROWER, subject="L1", result="conversation", at="2026-11-20T10:30:00+08:00")
    decision = tp_world.collect("2026-11-23T10:00:00+08:00", to=CONTACT, relation="contact")
    assert codes(decision) == ["THIRD_PARTY_NOT_AUTHORIZED"]  # only 5 misses since the conversation


def test_undesignated_or_unauthorized_contact(world: World) -> None:
    world.account(dpd=10, contacts=[{"to": CONTACT, "authorized": False}])
    _unreachable(world)
    decision = world.collect("2026-11-23T10:00:00+08:00", to=CONTACT, relation="contact")
    assert codes(decision) == ["THIRD_PARTY_NOT_AUTHORIZED"]
    stranger = world.collect("2026-11-23T10:00:00+08:00", to="+8613600136000", relation="contact")
    assert "not a contact the borrower designated" in stranger.reasons[0].message


def test_borrower_relation_to_another_number_is_judged_as_third_party(tp_world: World) -> None:
    decision = tp_world.collect("2026-11-23T10:00:00+08:00", to="+8613600136000", relation="borrower")
    assert codes(decision) == ["THIRD_PARTY_NOT_AUTHORIZED"]


def test_contact_at_most_once_a_day(tp_world: World) -> None:
    _unreachable(tp_world)
    assert tp_world.collect("2026-11-23T10:00:00+08:00", to=CONTACT, relation="contact").verdict == "allow"
    again = tp_world.collect("2026-11-23T11:00:00+08:00", to=CONTACT, relation="contact", channel="sms")
    assert again.verdict == "defer"
    assert codes(again) == ["FREQUENCY_CAP"]
    assert again.retry_at.isoformat() == "2026-11-24T08:00:00+08:00"


def test_contact_who_opted_out_is_never_contacted(tp_world: World) -> None:
    _unreachable(tp_world)
    tp_world.send(type="opt_out", to=CONTACT, at="2026-11-22T10:00:00+08:00")
    decision = tp_world.collect("2026-11-23T10:00:00+08:00", to=CONTACT, relation="contact")
    assert codes(decision) == ["THIRD_PARTY_NOT_AUTHORIZED"]
    assert "opted out" in decision.reasons[0].message
