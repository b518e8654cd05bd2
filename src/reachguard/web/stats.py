"""Dashboard figures for one org, read from its ledger (the record every decision is in).

Walks the org's chain backwards from its head in pages until the entries are older than the
window (ledger times are the events' own times, nearly in order), so a dashboard of the last
hour reads only the last hour's entries, whatever the length of the chain. A cap bounds the
work for very busy orgs; the page says when it was reached.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from reachguard.inbound import classify_reply
from reachguard.store.base import Store

VERDICTS = ("allow", "deny", "defer")
WINDOWS: dict[str, tuple[float, float, str]] = {  # name → (seconds, bucket seconds, unit)
    "1h": (3600.0, 60.0, "minute"),
    "24h": (86400.0, 3600.0, "hour"),
    "30d": (30 * 86400.0, 86400.0, "day"),
}
PAGE = 2000
_json = msgspec.json.Decoder(dict[str, Any])


@dataclass
class Stats:
    labels: list[str]
    decisions: dict[str, list[int]]
    opt_outs: list[int]
    complaints: list[int]
    reasons: list[tuple[str, int]]
    top_numbers: list[tuple[str, int]]
    top_agents: list[tuple[str, int]]
    total: int = 0
    truncated: bool = False
    unit: str = "minute"
    extra: dict[str, Any] = field(default_factory=dict)

    def chart_data(self) -> dict[str, Any]:
        """What the page's charts draw (JSON data island, read by app.js)."""
        return {"labels": self.labels, "decisions": self.decisions, "opt_outs": self.opt_outs, "complaints": self.complaints}


def dashboard(store: Store, org: str, now: float, window: str, zone: ZoneInfo, cap: int = 100_000) -> Stats:
    span, step, unit = WINDOWS[window]
    buckets = int(span // step)
    end = (now // step + 1) * step  # the current bucket is the last one
    start = end - buckets * step
    labels = [_label(start + i * step, step, zone) for i in range(buckets)]
    per_verdict = {v: [0] * buckets for v in VERDICTS}
    opt_outs, complaints = [0] * buckets, [0] * buckets
    reasons: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    seen = 0
    truncated = False
    head = store.ledger_head(org)
    upper = head[0] if head else 0
    while upper > 0:
        lower = max(1, upper - PAGE + 1)
        page = list(store.ledger_range(org, lower, upper))
        older = 0
        for entry in reversed(page):
            if entry.at < start:
                older += 1
                continue
            if entry.at >= end:
                continue
            seen += 1
            index = int((entry.at - start) // step)
            if entry.kind == "decision":
                verdict = entry.tag or "deny"
                if verdict in per_verdict:
                    per_verdict[verdict][index] += 1
                if verdict == "deny":
                    body = _json.decode(entry.body)
                    for reason in body.get("decision", {}).get("reasons", []):
                        reasons[str(reason.get("code"))] += 1
                    if entry.number:
                        numbers[entry.number] += 1
                    agent = body.get("attempt", {}).get("agent")
                    if agent:
                        agents[str(agent)] += 1
            elif entry.kind == "opt_out":
                opt_outs[index] += 1
            elif entry.kind == "complaint":
                complaints[index] += 1
            elif entry.kind == "inbound_sms":
                kind = classify_reply(str(_json.decode(entry.body).get("text", "")))
                if kind == "opt_out":
                    opt_outs[index] += 1
                elif kind == "complaint":
                    complaints[index] += 1
        if seen >= cap:
            truncated = True
            break
        if page and older == len(page):
            break  # a whole page before the window: the rest of the chain is older still
        upper = lower - 1
    total = sum(sum(v) for v in per_verdict.values())
    return Stats(labels, per_verdict, opt_outs, complaints, reasons.most_common(20), numbers.most_common(10),
                 agents.most_common(10), total, truncated, unit)


def _label(ts: float, step: float, zone: ZoneInfo) -> str:
    moment = datetime.fromtimestamp(ts, zone)
    if step < 3600:
        return moment.strftime("%H:%M")
    if step < 86400:
        return moment.strftime("%m-%d %H:00")
    return moment.strftime("%m-%d")
