"""Marketing needs recorded, unexpired, unwithdrawn consent, and stops at any opt-out.

Cited: 通信短信息服务管理规定（工信部令第31号）第十八条; 个人信息保护法 第十三、十四条.
"""

from __future__ import annotations

from datetime import datetime

from reachguard.rules.base import Context, Hit, reason, rule
from reachguard.state import ConsentRecord


def latest_consent(ctx: Context) -> ConsentRecord | None:
    """The newest consent or withdrawal of this org covering the attempt's channel."""
    latest: ConsentRecord | None = None
    for record in ctx.state.consents:
        if record.channels & ctx.channel_bit and (latest is None or record.at >= latest.at):
            latest = record
    return latest


@rule("consent", purposes=("marketing",), inert=lambda policy, purpose, channel: not policy.marketing.requires_consent)
def consent(ctx: Context, at: datetime) -> Hit | None:
    if not ctx.policy.marketing.requires_consent:
        return None
    record = latest_consent(ctx)
    if record is None:
        return Hit(reason(ctx, "NO_CONSENT", f"no recorded marketing consent from this number for {ctx.org} on {ctx.channel}", "consent"))
    if record.withdrawn:
        return Hit(reason(ctx, "CONSENT_WITHDRAWN", f"the recipient withdrew marketing consent for {ctx.org} on {ctx.channel}", "consent"))
    if record.expires_at is not None and record.expires_at <= at.timestamp():
        return Hit(reason(ctx, "CONSENT_EXPIRED", f"marketing consent for {ctx.org} expired", "consent"))
    return None


@rule("opt_out", purposes=("marketing",), passes_blank=True)  # no opt-out recorded: nothing stops it
def opt_out(ctx: Context, at: datetime) -> Hit | None:
    """An opt-out (or a complaint, by policy) stops marketing until the recipient consents anew."""
    complaints_count = ctx.policy.marketing.complaint_opts_out
    for record in ctx.state.opt_outs:
        if record.org is not None and record.org != ctx.org:
            continue
        if not record.channels & ctx.channel_bit:
            continue
        if record.kind == "complaint" and not complaints_count:
            continue
        if _consented_again_after(ctx, record.at):
            continue
        scope = "every sender" if record.org is None else ctx.org
        what = "complained about" if record.kind == "complaint" else "opted out of"
        return Hit(reason(ctx, "OPTED_OUT", f"the recipient {what} marketing from {scope}", "opt_out"))
    return None


def _consented_again_after(ctx: Context, moment: float) -> bool:
    record = latest_consent(ctx)
    return record is not None and not record.withdrawn and record.at > moment
