"""What the public page says about a number: complaints, opt-outs and reports on record.

Counts only, never which org recorded what. Read from the ledger's per-number index for
every org's chain (a handful of index ranges per org).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from reachguard.api.service import Service
from reachguard.inbound import classify_reply

import msgspec

_json = msgspec.json.Decoder(dict)


@dataclass(frozen=True, slots=True)
class PublicView:
    number: str
    complaints: int
    opt_outs: int
    reports: int
    labels: list[tuple[str, int]]
    score: str | None  # from the reputation service, when it is served


def public_view(svc: Service, number: str) -> PublicView:
    kinds: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    seen: set[tuple[str, int]] = set()
    for org in svc.store.ledger_orgs():
        for entry in svc.store.number_history(org, number, 1000):
            if (entry.org, entry.seq) in seen:
                continue
            seen.add((entry.org, entry.seq))
            if entry.kind == "inbound_sms":
                kind = classify_reply(str(_json.decode(entry.body).get("text", "")))
                if kind:
                    kinds[kind] += 1
            elif entry.kind == "report":
                kinds["report"] += 1
                labels[str(_json.decode(entry.body).get("label", "?"))] += 1
            else:
                kinds[entry.kind] += 1
    return PublicView(number, kinds["complaint"], kinds["opt_out"], kinds["report"], labels.most_common(), None)
