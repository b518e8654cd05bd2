"""What the public number page says: the reputation service's label when it is there
(`reachguard.reputation`), and the complaints, opt-outs and reports on record.

Counts only, never which org recorded what nor who reported. The counts come from the
ledger's per-number index for every org's chain (a handful of index ranges per org).
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

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
    labels: list[tuple[str, int]]
    score: dict[str, Any] | None  # the reputation service's label, confidence and reporters, when it is served


def _service() -> Any | None:
    """The reputation package's lookup and ingest modules, or None where it is not installed."""
    try:
        lookup = importlib.import_module("reachguard.reputation.lookup")
        ingest = importlib.import_module("reachguard.reputation.ingest")
    except ImportError:
        return None
    return lookup, ingest


def _score(svc: Service, number: str) -> dict[str, Any] | None:
    found = _service()
    if found is None:
        return None
    try:
        rep = found[0].lookup(svc.store, number)
    except (NotImplementedError, AttributeError) as exc:  # a store without the reputation tables
        log.debug("reputation lookup unavailable", extra={"error": str(exc)})
        return None
    return {"label": rep.label, "confidence": f"{rep.confidence:.0%}", "reporters": rep.reporters, "reports": rep.reports}


def record_public_report(svc: Service, number: str, label: str, reporter: str, at: datetime, text: str | None) -> bool:
    """Hand a public report about a caller's number to the reputation service; False if none."""
    found = _service()
    if found is None or label not in LABELS:
        return False
    try:
        found[1].record_report(svc.store, number, label, reporter, at, text)
    except (NotImplementedError, AttributeError):
        return False
    return True


def public_view(svc: Service, number: str) -> PublicView:
    kinds: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for org in svc.store.ledger_orgs():
        for entry in svc.store.number_history(org, number, 1000):
            if entry.org != org:
                continue  # the global chain is read once, as its own org
            if entry.kind == "inbound_sms":
                kind = classify_reply(str(_json.decode(entry.body).get("text", "")))
                if kind:
                    kinds[kind] += 1
            elif entry.kind == "report":
                kinds["report"] += 1
                labels[str(_json.decode(entry.body).get("label", "?"))] += 1
            else:
                kinds[entry.kind] += 1
    score = _score(svc, number)
    reports = max(kinds["report"], score["reports"] if score else 0)
    return PublicView(number, kinds["complaint"], kinds["opt_out"], reports, labels.most_common(), score)
