"""How much one reporter's vote weighs, and how a vote fades with age. Pure functions.

weight = tenure x burst x agreement, each factor in [0, 1], every constant from the policy's
[reputation] table (policy/schema.py: ReputationPolicy):

* tenure: brand-new reporters weigh `new_reporter_weight`, rising linearly to 1 over
  `established_after_days` since their first report (a fresh account cannot swing a number);
* burst: a reporter's recent-report counter (halving every `burst_half_life_hours`, kept
  at ingest: ingest.py) above
  `burst_allowance` scales the weight by allowance / peak (a script filing hundreds of reports);
* agreement: (agreements + prior) / (agreements + disagreements + prior), floored at
  `contrarian_floor`: reporters who keep contradicting the consensus of the numbers they report
  count less. Agreement is judged at ingest against the number's consensus at that moment.

A report's age decays it: 0.5 ** (age / half_life).
"""

from __future__ import annotations

from reachguard.policy.schema import ReputationPolicy
from reachguard.store.base import ReporterRow

DAY = 86_400.0
HOUR = 3_600.0


def decay(age_seconds: float, policy: ReputationPolicy) -> float:
    """0.5 ** (age / half-life); a report from the future (age < 0) does not count (0)."""
    if age_seconds < 0:
        return 0.0
    return 0.5 ** (age_seconds / (policy.half_life_days * DAY))


def tenure(first_at: float, at: float, policy: ReputationPolicy) -> float:
    ramp = min(1.0, max(0.0, at - first_at) / (policy.established_after_days * DAY))
    return policy.new_reporter_weight + (1.0 - policy.new_reporter_weight) * ramp


def burst_factor(peak: float, policy: ReputationPolicy) -> float:
    return 1.0 if peak <= policy.burst_allowance else policy.burst_allowance / peak


def agreement(agree: int, disagree: int, policy: ReputationPolicy) -> float:
    prior = policy.agreement_prior
    return max(policy.contrarian_floor, (agree + prior) / (agree + disagree + prior))


def reporter_weight(row: ReporterRow | None, at: float, policy: ReputationPolicy) -> float:
    """The weight of a reporter at time `at` (a reporter without a row is brand new)."""
    if row is None:
        return policy.new_reporter_weight
    _, first_at, _, _, _, _, peak, agree, disagree = row
    return tenure(first_at, at, policy) * burst_factor(peak, policy) * agreement(agree, disagree, policy)
