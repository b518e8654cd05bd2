"""Which org a number belongs to (sender-number registry), and orgs' appeals against a label.

A number is "verified" when an org registered it as one it sends from (`reachguard
sender-numbers add`). Registration is first come: a number registered to one org is refused
for another until that org removes it. An appeal is recorded and shown beside the label; it
never deletes or hides a report — only the registered owner may appeal.
"""

from __future__ import annotations

import time
from datetime import datetime

from reachguard.model import REPORT_LABELS
from reachguard.reputation.ports import reportable
from reachguard.store.base import Store

MAX_REASON = 2_000


class OwnerError(ValueError):
    """A registration or appeal that cannot be accepted; `code` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _org(org: str) -> str:
    if not org or len(org) > 128 or org == "*" or any(c.isspace() for c in org):
        raise OwnerError("INVALID_FIELD", f"invalid org {org[:40]!r}: 1-128 characters, no spaces, not '*'")
    return org


def register_sender_number(store: Store, number: str, org: str, at: datetime | None = None) -> str:
    """Register `number` as one `org` sends from; returns it in E.164."""
    e164 = reportable(number)
    owner = store.sender_number_org(e164)
    if owner is not None and owner != _org(org):
        raise OwnerError("NUMBER_TAKEN", f"{e164} is registered to another org; it must remove it first")
    store.set_sender_number(e164, _org(org), at.timestamp() if at else time.time())
    return e164


def unregister_sender_number(store: Store, number: str, org: str) -> bool:
    e164 = reportable(number)
    if store.sender_number_org(e164) != org:
        return False
    store.set_sender_number(e164, org, 0.0, registered=False)
    return True


def appeal(store: Store, number: str, org: str, reason: str, *, label: str | None = None,
           at: datetime | None = None) -> int:
    """Record `org`'s appeal against the label of its own number; returns the appeal id."""
    e164 = reportable(number)
    if label is not None and label not in REPORT_LABELS:
        raise OwnerError("INVALID_FIELD", f"unknown label {label[:40]!r}; choose one of {', '.join(REPORT_LABELS)}")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise OwnerError("INVALID_FIELD", f"the reason must be 1 to {MAX_REASON} characters")
    if store.sender_number_org(e164) != _org(org):
        raise OwnerError("NOT_OWNER", f"{e164} is not registered to org {org!r}: register it first "
                                      "(reachguard sender-numbers add), then appeal")
    return store.add_appeal(e164, org, label, reason, at.timestamp() if at else time.time())
