"""What the public number page says: the reputation (`reachguard.reputation`, the same
answer as GET /v1/numbers/{n}/reputation) and the complaints and opt-outs on record.

Counts only, never which org recorded what nor who reported. Complaint and opt-out counts come
from the ledger's per-number index for every org's chain; reports never enter the ledger (it
would keep reporter ids), so their counts come from the reputation store.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from reachguard import reputation
from reachguard.api.routes.reputation import parts as reporter_parts
from reachguard.api.service import Service
from reachguard.inbound import classify_reply

log = logging.getLogger("reachguard.web")
_json = msgspec.json.Decoder(dict)
LABELS = ("harassment", "collection", "loan_marketing", "fraud", "other")


@dataclass(frozen=True, slots=True)
class PublicView:
    number: str
    complaints: int
    opt_outs: int
    reports: int
    labels: list[tuple[str, str]]  # label, its share of the evidence
    score: dict[str, Any] | None  # the reputation service's label, confidence and reporters, when it is served


def _score(svc: Service, number: str) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The reputation service's answer (as the public API gives it) and its label weights."""
    try:
        rep = reputation.lookup(svc.store, number, policy=svc.policies.default.reputation)
    except NotImplementedError as exc:  # a store without the reputation tables
        log.debug("reputation lookup unavailable", extra={"error": str(exc)})
        return None, []
    score = {"label": rep.label, "confidence": f"{rep.confidence:.0%}", "reporters": rep.reporters, "reports": rep.reports}
    labels = [(s.label, f"{s.share:.0%}") for s in rep.scores if s.weight > 0]
    return score, labels


def record_public_report(svc: Service, number: str, label: str, reporter: str, at: datetime, text: str | None) -> bool:
    """A public report about a caller's number, keyed and weighted exactly as POST /v1/reports does."""
    if label not in LABELS:
        return False
    try:
        reputation.record_report(svc.store, number, label, reporter, at, text,
                                 policy=svc.policies.default.reputation, key=reporter_parts(svc).key)
    except (reputation.EventError, reputation.InvalidNumber) as exc:  # the complaint itself is kept
        log.info("public report not recorded", extra={"error": str(exc)})
        return False
    return True


def public_view(svc: Service, number: str) -> PublicView:
    kinds: Counter[str] = Counter()
    for org in svc.store.ledger_orgs():
        for entry in svc.store.number_history(org, number, 1000):
            if entry.org != org:
                continue  # the global chain is read once, as its own org
            if entry.kind == "inbound_sms":
                kind = classify_reply(str(_json.decode(entry.body).get("text", "")))
                if kind:
                    kinds[kind] += 1
            else:
                kinds[entry.kind] += 1
    score, labels = _score(svc, number)
    reports = score["reports"] if score else 0
    return PublicView(number, kinds["complaint"], kinds["opt_out"], reports, labels, score)
