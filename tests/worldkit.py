"""The World test helper: a Gateway on a store, fed contract events as plain dicts.

A module of its own (not conftest.py) so that test files can import it without clashing with
the conftest.py of a sub-folder.
"""

from __future__ import annotations

import json
from typing import Any

from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.model import Decision
from reachguard.policy import PolicyBook
from reachguard.store import SQLiteStore

BORROWER = "+8613900139000"
PROSPECT = "+8613800138000"
CONTACT = "+8613700137000"


class World:
    """A gateway plus shorthand for feeding it contract events as plain dicts."""

    def __init__(self, policies: PolicyBook | None = None, store: Any = None):
        self.gateway = Gateway(store or SQLiteStore(":memory:"), policies or PolicyBook.profile("cn"), secret=b"test")

    def send(self, **event: Any) -> Decision | None:
        return self.gateway.handle(decode_event(json.dumps(event, ensure_ascii=False)))

    def attempt(self, at: str, **fields: Any) -> Decision:
        event = {"type": "attempt", "org": "acme", "channel": "sms", "purpose": "marketing", "to": PROSPECT, "at": at}
        event.update(fields)
        decision = self.send(**event)
        assert decision is not None
        return decision

    def consent(self, at: str = "2026-11-01T10:00:00+08:00", to: str = PROSPECT, org: str = "acme", **fields: Any) -> None:
        self.send(type="consent", org=org, to=to, purpose="marketing", at=at, **fields)

    def account(self, dpd: int, at: str = "2026-11-01T10:00:00+08:00", contacts: list | None = None, **fields: Any) -> None:
        event = dict(type="account", org="acme", subject="L1", borrower=BORROWER, at=at, days_past_due=dpd, contacts=contacts or [])
        event.update(fields)
        self.send(**event)

    def collect(self, at: str, channel: str = "call", **fields: Any) -> Decision:
        base = dict(purpose="collection", channel=channel, to=BORROWER, subject="L1")
        base.update(fields)
        return self.attempt(at, **base)


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]
