"""A number's reputation at a moment: read its aggregate (one key), its reporters, its owner
and appeals, and compute. The arithmetic is in `score`, a pure function the tests drive.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone, tzinfo

from reachguard.reputation.ports import reportable
from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation import traffic
from reachguard.reputation.view import LABEL_NAMES, AppealView, LabelScore, NumberOwner, Reputation, TrafficSignal, parameters
from reachguard.reputation.votes import LABEL_INDEX, LABELS, Votes, unpack
from reachguard.reputation.weights import decay, reporter_weight
from reachguard.store.base import AppealRow, ReporterRow, Store

_DEFAULT = ReputationPolicy()
_HARASSMENT = LABEL_INDEX["harassment"]


def lookup(store: Store, number: str, at: datetime | None = None, *, policy: ReputationPolicy | None = None) -> Reputation:
    """The reputation of `number` (any written form; InvalidNumber if it is not one) at `at`
    (default: now). Reports after `at` do not count."""
    policy = policy or _DEFAULT
    e164 = reportable(number)
    ts = at.timestamp() if at is not None else time.time()
    zone: tzinfo = at.tzinfo if at is not None and at.tzinfo is not None else timezone.utc
    found = store.report_aggregates([e164]).get(e164)
    votes = unpack(found[0]) if found else {}
    reporters = store.reporters(list(votes)) if votes else {}
    org = store.sender_number_org(e164)
    appeals = store.appeals(e164)
    signals = traffic.signals(store, org, ts, policy) if org is not None else []
    return score(e164, votes, found[1] if found else 0, reporters, ts, zone, policy,
                 owner=org, appeals=appeals, signals=signals)


def score(number: str, votes: Votes, reports: int, reporters: dict[bytes, ReporterRow], at: float, zone: tzinfo,
          policy: ReputationPolicy, *, owner: str | None = None, appeals: list[AppealRow] | None = None,
          signals: list[TrafficSignal] | None = None) -> Reputation:
    """Weighted, decayed evidence per label; the top label and its confidence."""
    weights = [0.0] * len(LABELS)
    counted = 0
    for h, (label, when) in votes.items():
        fade = decay(at - when, policy)
        if fade == 0.0:
            continue
        counted += 1
        weights[label] += reporter_weight(reporters.get(h), at, policy) * fade
    signals = signals or []
    weights[_HARASSMENT] += sum(s.contribution for s in signals)
    total = sum(weights)
    denominator = total + policy.evidence_prior
    top = max(range(len(LABELS)), key=lambda i: weights[i])
    label = LABELS[top] if weights[top] > 0 else None
    scores = sorted(
        (LabelScore(LABELS[i], LABEL_NAMES[LABELS[i]], round(w, 6), round(w / denominator, 6))
         for i, w in enumerate(weights) if w > 0),
        key=lambda s: -s.weight,
    )
    return Reputation(
        number=number,
        label=label,
        name=LABEL_NAMES[label] if label else None,
        confidence=round(weights[top] / denominator, 6) if label else 0.0,
        reporters=counted,
        reports=reports,
        scores=scores,
        owner=NumberOwner(owner) if owner is not None else None,
        appeals=[AppealView(a[0], a[2], a[3], a[4], _iso(a[5], zone)) for a in appeals or []],
        signals=signals,
        at=_iso(at, zone),
        model=parameters(policy),
    )


def _iso(ts: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ts, zone).isoformat()
