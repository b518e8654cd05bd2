"""Collection rules tied to a loan account: known debt, stage, wrong number, cooldown.

Cited: 中国银行业协会《金融机构个人消费类贷款催收工作指引》(2026) for cn; Regulation F
(12 CFR 1006.14(b)(2)) for the us cooldown after a telephone conversation.
"""

from __future__ import annotations

from datetime import datetime

from reachguard.policy.schema import Policy, Stage
from reachguard.rules.base import Context, Hit, reason, rule
from reachguard.timeutil import from_ts


def subject_matches(record_subject: str | None, subject: str | None) -> bool:
    """An outcome without a subject concerns every debt of the org at that number."""
    return record_subject is None or subject is None or record_subject == subject


@rule("known_subject", purposes=("collection",))
def known_subject(ctx: Context, at: datetime) -> Hit | None:
    if ctx.state.account is not None:
        return None
    if ctx.attempt.subject is None:
        message = "a collection attempt must name the loan account (`subject`)"
    else:
        message = f"{ctx.org} has no account {ctx.attempt.subject!r}"
    return Hit(reason(ctx, "UNKNOWN_SUBJECT", message, "unknown_subject"))


def current_stage(stages: list[Stage], days_past_due: int) -> Stage | None:
    current = None
    for stage in stages:  # sorted by from_dpd at load
        if stage.from_dpd <= days_past_due:
            current = stage
    return current


@rule("stage", purposes=("collection",), passes_blank=True)  # no account: known_subject speaks
def collection_stage(ctx: Context, at: datetime) -> Hit | None:
    account = ctx.state.account
    if account is None:
        return None
    stages = ctx.policy.collection.stages
    stage = current_stage(stages, account.days_past_due)
    dpd = account.days_past_due
    if stage is None:
        first = stages[0].from_dpd if stages else "never"
        message = f"the account is {dpd} days past due: only service reminders until day {first}"
        return Hit(reason(ctx, "STAGE_NOT_ALLOWED", message, "stage"))
    if ctx.relation == "contact" or ctx.channel in stage.channels:
        return None
    later = [s.from_dpd for s in stages if ctx.channel in s.channels and s.from_dpd > dpd]
    when = f"from {later[0]} days past due" if later else "at no stage"
    message = f"{ctx.channel} to the {ctx.relation} is allowed {when}; the account is {dpd} days past due"
    return Hit(reason(ctx, "STAGE_NOT_ALLOWED", message, "stage"))


@rule("wrong_number", purposes=("collection",), passes_blank=True)
def wrong_number(ctx: Context, at: datetime) -> Hit | None:
    for outcome in ctx.state.outcomes:
        if outcome.result == "wrong_number" and subject_matches(outcome.subject, ctx.attempt.subject):
            return Hit(reason(ctx, "WRONG_NUMBER", "this number was reported as a wrong number for this debt", "wrong_number"))
    return None


def _cooldown_inert(policy: Policy, purpose: str, channel: str) -> bool:
    rule = policy.collection.cooldown
    return rule is None or rule.hours == 0 or (rule.channels is not None and channel not in rule.channels)


@rule("cooldown", purposes=("collection",), time_based=True, inert=_cooldown_inert, passes_blank=True)
def cooldown(ctx: Context, at: datetime) -> Hit | None:
    """After a conversation about a debt, no further contact on the listed channels for a while."""
    if not ctx.state.outcomes:
        return None  # no conversation recorded (the common case): nothing to cool down from
    policy = ctx.policy.collection.cooldown
    if policy is None or policy.hours == 0:
        return None
    if policy.channels is not None and ctx.channel not in policy.channels:
        return None
    last = max(
        (o.at for o in ctx.state.outcomes if o.result == "conversation" and subject_matches(o.subject, ctx.attempt.subject)),
        default=None,
    )
    if last is None:
        return None
    until = last + policy.hours * 3600
    if at.timestamp() >= until:
        return None
    message = f"a conversation about this debt took place; no {ctx.channel} for {policy.hours} hours after it"
    return Hit(reason(ctx, "COOLDOWN", message, "cooldown"), retry_at=from_ts(until, ctx.zones[0]))
