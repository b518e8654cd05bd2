"""What a lookup answers: the number's label, confidence, reporters, owner, appeals, signals,
and the model's constants with their explanations. Never a reporter id, hash or report text.
"""

from __future__ import annotations

from typing import Any

import msgspec

from reachguard.policy.schema import ReputationPolicy

LABEL_NAMES = {"harassment": "骚扰", "collection": "催收", "loan_marketing": "贷款推销", "fraud": "诈骗", "other": "其他"}


class LabelScore(msgspec.Struct):
    label: str
    name: str  # the label in Chinese, as shown to recipients
    weight: float  # decayed, reporter-weighted evidence (+ traffic evidence for harassment)
    share: float  # weight / (total weight + evidence prior)


class NumberOwner(msgspec.Struct):
    """The registered org that sends from this number (reports about it still count)."""

    org: str
    verified: bool = True


class AppealView(msgspec.Struct):
    id: int
    org: str
    label: str | None  # the label appealed against; None: the number's labelling as a whole
    reason: str
    at: str
    status: str = "recorded"  # an appeal never deletes reports; it is shown beside the label


class TrafficSignal(msgspec.Struct):
    """One figure from the owner's own traffic through ReachGuard, folded in as harassment evidence."""

    name: str
    value: float | None  # None: too little traffic to count
    reference: float  # the value at which the signal counts fully
    weight: float  # reporter-equivalents of harassment at the reference
    contribution: float  # weight x min(1, value / reference)
    detail: str


class ModelParameter(msgspec.Struct):
    name: str
    value: float
    meaning: str


class Reputation(msgspec.Struct):
    number: str
    label: str | None  # the label with the most evidence; None without any
    name: str | None  # that label in Chinese
    confidence: float  # top weight / (total weight + evidence prior), 0..1
    reporters: int  # distinct reporters whose vote counts (one each, their latest label)
    reports: int  # reports filed about the number, every one (the log is never pruned)
    scores: list[LabelScore]
    owner: NumberOwner | None
    appeals: list[AppealView]
    signals: list[TrafficSignal]
    at: str
    model: list[ModelParameter]

    def to_builtins(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


_PARAMETERS: dict[int, tuple[ReputationPolicy, list[ModelParameter]]] = {}  # id -> (the policy itself, ...)


def parameters(policy: ReputationPolicy) -> list[ModelParameter]:
    """Every constant of the model with its meaning (from the policy schema's descriptions)."""
    hit = _PARAMETERS.get(id(policy))
    if hit is not None and hit[0] is policy:  # an id() is reused once its object is freed
        return hit[1]
    computed = [
        ModelParameter(name, float(getattr(policy, name)), field.description or "")
        for name, field in type(policy).model_fields.items()
    ]
    if len(_PARAMETERS) > 64:
        _PARAMETERS.clear()
    _PARAMETERS[id(policy)] = (policy, computed)
    return computed
