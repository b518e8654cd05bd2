"""Named do-not-contact lists: which ones stop marketing and collection is policy.

An org's own list is named after the org (`acme`) or `org:acme`; it always applies to that
org. Cited: 工信部令第31号 第十八条 (marketing); 催收工作指引 (collection).
"""

from __future__ import annotations

from datetime import datetime

from reachguard.rules.base import Context, Hit, reason, rule


def own_lists(org: str) -> set[str]:
    return {org, f"org:{org}"}


@rule("dnc", purposes=("marketing", "collection"), passes_blank=True)
def do_not_contact(ctx: Context, at: datetime) -> Hit | None:
    if not ctx.state.lists:
        return None
    if ctx.purpose == "marketing":
        applicable = set(ctx.policy.marketing.deny_lists)
        citation = "dnc_marketing"
    else:
        applicable = set(ctx.policy.collection.stop_lists)
        citation = "dnc_collection"
    hits = sorted(ctx.state.lists & (applicable | own_lists(ctx.org)))
    if not hits:
        return None
    return Hit(reason(ctx, "ON_DNC_LIST", f"the number is on do-not-contact list {', '.join(hits)}", citation))
