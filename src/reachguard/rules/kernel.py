"""A rule kernel per (policy, purpose, channel): which rules can fire, chosen once, not per attempt.

The generic path calls every rule of the purpose for every attempt. Most of those calls are
known to pass before any state is loaded: quiet hours that do not cover the channel, no
cooldown configured, no cap counting the channel (each rule's `inert`), and for a number with
nothing recorded — most numbers of a campaign — the opt-out, list, stage, wrong-number,
cooldown and third-party rules (`passes_blank`). A kernel keeps the check functions that are
left, in registration order (= the order of reasons), plus what the engine looks up per
attempt: the channel's bit, the policy's fixed zones and the caps' reach. Skipping a rule
that would have returned None changes no answer; tests/test_engine_differential.py compares
the kernel's decisions with the generic path's on random worlds.
"""

from __future__ import annotations

from typing import Callable
from zoneinfo import ZoneInfo

from reachguard.policy.schema import Policy
from reachguard.rules import rules_for
from reachguard.rules.base import Context, Hit
from reachguard.state import CHANNEL_BITS, RecipientState

Check = Callable[[Context, object], "Hit | None"]


class Kernel:
    """What deciding one (policy, purpose, channel) needs, computed once."""

    __slots__ = ("policy", "channel_bit", "checks", "blank_checks", "time_checks", "blank_time_checks", "zones",
                 "lookback_days", "per_subject")

    def __init__(self, policy: Policy, purpose: str, channel: str):
        live = [r for r in rules_for(purpose) if not r.inert(policy, purpose, channel)]
        blank = [r for r in live if r.passes_blank is None or not r.passes_blank(policy, purpose)]
        self.policy = policy  # kept, and compared with `is` on look-up: an id() is reused once freed
        self.channel_bit = CHANNEL_BITS[channel]
        self.checks: tuple[Check, ...] = tuple(r.check for r in live)
        self.blank_checks: tuple[Check, ...] = tuple(r.check for r in blank)
        self.time_checks: tuple[Check, ...] = tuple(r.check for r in live if r.time_based)
        self.blank_time_checks: tuple[Check, ...] = tuple(r.check for r in blank if r.time_based)
        # A policy with a fixed zone gives it whatever the number; "recipient" zones go per number.
        self.zones: tuple[ZoneInfo, ...] | None = None if policy.timezone == "recipient" else policy.zones_for("")
        caps = policy.for_purpose(purpose).caps
        self.lookback_days = max((cap.days for cap in caps), default=0)
        self.per_subject = any(cap.per == "subject" for cap in caps)


_KERNELS: dict[tuple[int, str, str], Kernel] = {}


def kernel_for(policy: Policy, purpose: str, channel: str) -> Kernel:
    """The kernel of (policy, purpose, channel), built on first use."""
    key = (id(policy), purpose, channel)
    kernel = _KERNELS.get(key)
    if kernel is not None and kernel.policy is policy:
        return kernel
    kernel = Kernel(policy, purpose, channel)
    if len(_KERNELS) > 4096:  # per-test or reloaded policies: never grows without bound
        _KERNELS.clear()
    _KERNELS[key] = kernel
    return kernel


def is_blank(state: RecipientState) -> bool:
    """Nothing recorded about the number for this org (the state `passes_blank` speaks of)."""
    return not (
        state.consents or state.opt_outs or state.lists or state.contacts or state.outcomes
        or state.account is not None or state.subject_contacts or state.borrower_outcomes
    )
