"""Prometheus metrics of one service instance (its own registry: several apps may share a process)."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from reachguard.model import Decision

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter("reachguard_decisions", "Decisions by verdict", ["verdict"], registry=r)
        self.reasons = Counter("reachguard_decision_reasons", "Reasons given in decisions (allow: none)", ["verdict", "reason"], registry=r)
        self.requests = Counter("reachguard_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "reachguard_http_request_seconds", "HTTP request latency by route", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.decide_latency = Histogram(
            "reachguard_decide_seconds", "Time to decide and commit one group of attempts (group commit)",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.group_size = Histogram(
            "reachguard_decide_group_attempts", "Attempts decided in one store transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 10000), registry=r,
        )
        self.events = Counter("reachguard_events", "State events applied, by type", ["type"], registry=r)
        self.opt_outs = Counter("reachguard_opt_outs", "Opt-outs recorded, by source", ["source"], registry=r)
        self.complaints = Counter("reachguard_complaints", "Complaints recorded, by source", ["source"], registry=r)
        self.verifications = Counter("reachguard_verifications", "Verification look-ups by result", ["genuine"], registry=r)
        self.rate_limited = Counter("reachguard_rate_limited", "Requests refused by a rate limit", ["limit"], registry=r)
        self._request_children: dict[tuple[str, str, int], object] = {}
        self._latency_children: dict[str, object] = {}

    def count_decisions(self, decisions: Iterable[Decision]) -> None:
        verdicts: Tally = Tally()
        reasons: Tally = Tally()
        for d in decisions:
            verdicts[d.verdict] += 1
            if d.reasons:
                for reason in d.reasons:
                    reasons[(d.verdict, reason.code)] += 1
            else:
                reasons[(d.verdict, "none")] += 1
        for verdict, n in verdicts.items():
            self.decisions.labels(verdict).inc(n)
        for (verdict, code), n in reasons.items():
            self.reasons.labels(verdict, code).inc(n)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(method, route, str(status))
        child.inc()  # type: ignore[attr-defined]
        hist = self._latency_children.get(route)
        if hist is None:
            hist = self._latency_children[route] = self.latency.labels(route)
        hist.observe(seconds)  # type: ignore[attr-defined]
