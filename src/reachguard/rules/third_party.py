"""Third parties: only contacts the borrower designated and authorized, only when the
borrower is unreachable, never after they opted out.

Cited: 催收工作指引 (不得骚扰无关第三人); 个人信息保护法 第十三条. The per-day limit for a
contact is a cap in the profile (`relations = ["contact"]`), reported as FREQUENCY_CAP.
"""

from __future__ import annotations

from datetime import datetime

from reachguard.rules.base import Context, Hit, reason, rule
from reachguard.rules.collection import subject_matches
from reachguard.timeutil import local_day

UNANSWERED = frozenset({"no_answer", "voicemail"})


@rule("third_party", purposes=("collection",), passes_blank=True)  # no account: known_subject speaks
def third_party(ctx: Context, at: datetime) -> Hit | None:
    account = ctx.state.account
    if account is None or ctx.relation not in ("contact", "guarantor"):
        return None
    problems: list[str] = []
    authorized = account.contacts.get(ctx.number)
    if authorized is None:
        problems.append("the number is not a contact the borrower designated for this account")
    elif ctx.relation == "contact" and ctx.policy.collection.third_party.require_authorized and not authorized:
        problems.append("the borrower did not authorize contacting this person")
    if _opted_out(ctx):
        problems.append("this contact opted out")
    if ctx.relation == "contact":
        shortfall = _unreachable_shortfall(ctx, at)
        if shortfall:
            problems.append(shortfall)
    if not problems:
        return None
    return Hit(reason(ctx, "THIRD_PARTY_NOT_AUTHORIZED", "; ".join(problems), "third_party"))


def _opted_out(ctx: Context) -> bool:
    return any(
        record.kind == "opt_out" and (record.org is None or record.org == ctx.org) and record.channels & ctx.channel_bit
        for record in ctx.state.opt_outs
    )


def _unreachable_shortfall(ctx: Context, at: datetime) -> str | None:
    """Why the borrower does not yet count as unreachable, or None if they do."""
    rules = ctx.policy.collection.third_party
    if rules.unreachable_min_calls == 0 and rules.unreachable_min_days == 0:
        return None
    subject = ctx.attempt.subject
    outcomes = [o for o in ctx.state.borrower_outcomes if subject_matches(o.subject, subject) and o.at <= at.timestamp()]
    last_talk = max((o.at for o in outcomes if o.result == "conversation"), default=float("-inf"))
    misses = [o.at for o in outcomes if o.result in UNANSWERED and o.at > last_talk]
    days = {local_day(ts, ctx.zones[0]) for ts in misses}
    if len(misses) >= rules.unreachable_min_calls and len(days) >= rules.unreachable_min_days:
        return None
    return (
        f"the borrower is not unreachable: {len(misses)} unanswered calls over {len(days)} days since the last "
        f"conversation (needs {rules.unreachable_min_calls} over {rules.unreachable_min_days} days)"
    )
