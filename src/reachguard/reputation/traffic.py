"""Signals from a sender's own traffic through ReachGuard, for numbers registered to an org.

The org's complaint rate and opt-out rate (per allowed contact) and its share of denied
attempts over `traffic_window_days` become harassment evidence, each worth
weight x min(1, value / reference) reporter-equivalents. Counting an org's traffic scans its
rows, so the figures are cached per org for `traffic_cache_seconds`.
"""

from __future__ import annotations

import time
import weakref

from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation.view import TrafficSignal
from reachguard.reputation.weights import DAY
from reachguard.store.base import Store

# (id(store), org, hour) -> (when, a weak reference to the store, figures): the reference is
# checked because an id() is reused once its object is freed.
_cache: dict[tuple[int, str, int], tuple[float, "weakref.ref[Store]", tuple[int, int, int, int, int]]] = {}


def _traffic(store: Store, org: str, since: float, ttl: float) -> tuple[int, int, int, int, int]:
    key = (id(store), org, int(since // 3600))
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[1]() is store and now - hit[0] < ttl:
        return hit[2]
    figures = store.org_traffic(org, since)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (now, weakref.ref(store), figures)
    return figures


def clear_cache() -> None:
    _cache.clear()


def signals(store: Store, org: str, at: float, policy: ReputationPolicy) -> list[TrafficSignal]:
    allowed, complaints, opt_outs, decisions, denied = _traffic(
        store, org, at - policy.traffic_window_days * DAY, policy.traffic_cache_seconds)
    minimum = policy.traffic_min_contacts
    window = f"over {policy.traffic_window_days:g} days"

    def signal(name: str, count: int, what: str, base: int, unit: str, weight: float, reference: float) -> TrafficSignal:
        if base < minimum:
            return TrafficSignal(name, None, reference, weight, 0.0,
                          f"only {base} {unit} {window} (fewer than {minimum}): not counted")
        value = count / base
        contribution = weight * min(1.0, value / reference)
        return TrafficSignal(name, round(value, 6), reference, weight, round(contribution, 6),
                      f"{count} {what} per {base} {unit} {window}")

    return [
        signal("complaint_rate", complaints, "complaints", allowed, "allowed contacts",
               policy.complaint_rate_weight, policy.complaint_rate_reference),
        signal("opt_out_rate", opt_outs, "opt-outs", allowed, "allowed contacts",
               policy.opt_out_rate_weight, policy.opt_out_rate_reference),
        signal("denied_share", denied, "denied", decisions, "decisions",
               policy.denied_share_weight, policy.denied_share_reference),
    ]
