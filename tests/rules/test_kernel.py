"""The rule kernel: which checks a (policy, purpose, channel) keeps, and its cache."""

from __future__ import annotations

from reachguard.policy import PolicyBook
from reachguard.rules.collection import cooldown
from reachguard.rules.consent import consent, opt_out
from reachguard.rules.frequency import frequency_caps
from reachguard.rules.hours import quiet_hours
from reachguard.rules.kernel import is_blank, kernel_for
from reachguard.rules.lists import do_not_contact
from reachguard.state import AccountRecord, RecipientState


def test_cn_marketing_sms_keeps_every_rule_and_on_a_blank_state_only_those_that_can_fire() -> None:
    policy = PolicyBook.profile("cn").default
    kernel = kernel_for(policy, "marketing", "sms")
    assert kernel.checks == (consent, opt_out, do_not_contact, quiet_hours, frequency_caps)
    assert kernel.blank_checks == (consent, quiet_hours)  # caps of 1 and 4 pass with no contact counted
    assert kernel.time_checks == (quiet_hours, frequency_caps)
    assert kernel.zones is not None and str(kernel.zones[0]) == "Asia/Shanghai"
    assert (kernel.lookback_days, kernel.per_subject) == (30, False)


def test_inert_rules_are_dropped() -> None:
    policy = PolicyBook.profile("cn").default
    assert kernel_for(policy, "service", "sms").checks == ()  # cn service: no quiet hours, no caps
    sms = kernel_for(policy, "collection", "sms")
    call = kernel_for(policy, "collection", "call")
    assert cooldown not in sms.checks and cooldown in call.checks  # cooldown covers calls only
    us = PolicyBook.profile("us").default
    assert kernel_for(us, "marketing", "sms").zones is None  # the recipient's zones, per number
    assert frequency_caps not in kernel_for(us, "marketing", "sms").checks  # us marketing: no caps
    assert kernel_for(us, "collection", "call").per_subject


def test_a_cap_of_zero_is_kept_on_a_blank_state() -> None:
    book = PolicyBook({**PolicyBook.profile("cn")._base_data,
                       "service": {"caps": [{"name": "none", "days": 1, "max": 0}]}})
    assert frequency_caps in kernel_for(book.default, "service", "push").blank_checks


def test_kernels_are_cached_per_policy_object() -> None:
    a, b = PolicyBook.profile("cn").default, PolicyBook.profile("cn").default
    assert kernel_for(a, "marketing", "sms") is kernel_for(a, "marketing", "sms")
    assert kernel_for(a, "marketing", "sms") is not kernel_for(b, "marketing", "sms")
    assert kernel_for(b, "marketing", "sms").policy is b


def test_blank_means_nothing_recorded() -> None:
    state = RecipientState("+8613800138000")
    assert is_blank(state)
    state.lists.add("national")
    assert not is_blank(state)
    assert not is_blank(RecipientState("+8613800138000", account=AccountRecord("acme", "L1", "+8613800138000", 3, {}, 0.0)))
