"""What every rule shares: the context it reads, the hit it returns, the registry.

A rule is a small function `(ctx, at) -> Hit | None`. It reads the recipient state and the
org's policy, never the wall clock: `at` is the attempt's time, or a later candidate time
when the engine looks for the earliest moment a deferred attempt would pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, NamedTuple
from zoneinfo import ZoneInfo

from reachguard.model import Attempt, Reason
from reachguard.policy.schema import Policy
from reachguard.state import RecipientState


@dataclass(slots=True)
class Context:
    """One attempt, normalised, with the state and policy it is judged against."""

    attempt: Attempt
    number: str
    policy: Policy
    state: RecipientState
    relation: str  # effective relation (a "borrower" call to a non-borrower is a "contact")
    zones: tuple[ZoneInfo, ...]
    channel_bit: int

    @property
    def purpose(self) -> str:
        return self.attempt.purpose

    @property
    def channel(self) -> str:
        return self.attempt.channel

    @property
    def org(self) -> str:
        return self.attempt.org


class Hit(NamedTuple):
    """A rule that did not pass. `retry_at` set = time-based: it passes from then on.

    Immutable; a NamedTuple rather than a frozen dataclass because a denied attempt makes
    several and a frozen dataclass's __init__ is the slowest way to build a record."""

    reason: Reason
    retry_at: datetime | None = None


RuleFn = Callable[[Context, datetime], "Hit | None"]
Inert = Callable[[Policy, str, str], bool]
"""(policy, purpose, channel) -> True when the rule can never fire for them, whatever the state."""
PassesBlank = Callable[[Policy, str], bool]
"""(policy, purpose) -> True when the rule passes for a recipient with nothing recorded."""


def _never(policy: Policy, purpose: str, channel: str) -> bool:
    return False


def _always(policy: Policy, purpose: str) -> bool:
    return True


@dataclass(slots=True, frozen=True)
class Rule:
    """A registered rule. `inert` and `passes_blank` are promises about `check` that let the
    rule kernel (rules/kernel.py) skip calling it; tests/test_engine_differential.py holds them
    to the rule (the kernel's decisions must equal calling every rule)."""

    name: str
    check: RuleFn
    time_based: bool
    purposes: frozenset[str]
    inert: Inert = _never
    passes_blank: PassesBlank | None = None


RULES: list[Rule] = []


def rule(
    name: str,
    *,
    purposes: tuple[str, ...],
    time_based: bool = False,
    inert: Inert | None = None,
    passes_blank: PassesBlank | bool = False,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule for the purposes it governs; order of registration = order of reasons.

    `inert`: when it can never fire for a (policy, purpose, channel); `passes_blank`: whether
    (True, or a function of policy and purpose) it passes when nothing is recorded about the number.
    """
    blank: PassesBlank | None = _always if passes_blank is True else (passes_blank or None)

    def register(fn: RuleFn) -> RuleFn:
        RULES.append(Rule(name, fn, time_based, frozenset(purposes), inert or _never, blank))
        return fn

    return register


def reason(ctx: Context, code: str, message: str, citation_key: str) -> Reason:
    return Reason(code=code, message=message, citation=ctx.policy.cite(citation_key))
