"""Which stored state an attempt needs: how many days of contacts its purpose's caps look
back, and whether any cap counts per debt (so a state read loads no more than the rules use)."""

from __future__ import annotations

from reachguard.model import Attempt
from reachguard.policy.schema import Policy
from reachguard.store import StateQuery

DAY = 86_400.0
NEVER = float("inf")  # contacts_since when no cap looks back: load none


def state_query(attempt: Attempt, number: str, policy: Policy, ts: float) -> StateQuery:
    lookback, per_subject = _cap_reach(policy, attempt.purpose)
    since = (ts - (lookback + 1) * DAY) if lookback else NEVER
    return StateQuery(attempt.org, number, attempt.purpose, attempt.subject, since, per_subject)


_CAP_REACH: dict[tuple[int, str], tuple[Policy, tuple[int, bool]]] = {}


def _cap_reach(policy: Policy, purpose: str) -> tuple[int, bool]:
    """How many days of contacts the purpose's caps look back, and whether any is per debt.

    Cached by the policy's identity; the entry keeps the policy itself and is checked with `is`,
    because an id() is reused once its object is freed (a reloaded or per-test policy would
    otherwise get another policy's reach and skip loading the contacts a cap needs).
    """
    key = (id(policy), purpose)
    hit = _CAP_REACH.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    caps = policy.for_purpose(purpose).caps
    reach = (max((cap.days for cap in caps), default=0), any(cap.per == "subject" for cap in caps))
    if len(_CAP_REACH) > 4096:
        _CAP_REACH.clear()
    _CAP_REACH[key] = (policy, reach)
    return reach
