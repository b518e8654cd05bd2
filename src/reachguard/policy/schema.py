"""The shape of a policy profile, validated on load (pydantic: clear errors with paths)."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reachguard.numbers import time_zones
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Channel = Literal["sms", "call", "robocall", "push"]
RelationName = Literal["borrower", "contact", "guarantor", "prospect"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHours(_Strict):
    """No contact from `start` to `end` (local time); `end` < `start` wraps past midnight."""

    start: time
    end: time
    channels: list[Channel] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("quiet hours start and end must differ")
        return self


class Cap(_Strict):
    """At most `max` allowed contacts in `days` calendar days (today and the days before).

    `per = "number"` counts the org's contacts to the number; `per = "subject"` counts the
    org's contacts about one debt (account), whatever the number.
    """

    name: str
    per: Literal["number", "subject"] = "number"
    days: int = Field(ge=1, le=366)
    max: int = Field(ge=0, le=100_000)
    channels: list[Channel] | None = None
    relations: list[RelationName] | None = None


class Stage(_Strict):
    """From `from_dpd` days past due, these channels may reach the borrower."""

    from_dpd: int = Field(ge=0)
    channels: list[Channel]


class Cooldown(_Strict):
    """After a `conversation` outcome about a debt, no contact on `channels` for `hours`."""

    hours: int = Field(ge=0, le=24 * 366)
    channels: list[Channel] | None = None


class ThirdParty(_Strict):
    require_authorized: bool = True
    unreachable_min_calls: int = Field(default=6, ge=0)
    unreachable_min_days: int = Field(default=3, ge=0)


class MarketingPolicy(_Strict):
    requires_consent: bool = True
    complaint_opts_out: bool = True
    deny_lists: list[str] = []
    quiet_hours: QuietHours | None = None
    caps: list[Cap] = []


class CollectionPolicy(_Strict):
    stop_lists: list[str] = []
    quiet_hours: QuietHours | None = None
    caps: list[Cap] = []
    stages: list[Stage] = []
    cooldown: Cooldown | None = None
    third_party: ThirdParty = ThirdParty()

    @field_validator("stages")
    @classmethod
    def _sorted(cls, stages: list[Stage]) -> list[Stage]:
        return sorted(stages, key=lambda s: s.from_dpd)


class ServicePolicy(_Strict):
    quiet_hours: QuietHours | None = None
    caps: list[Cap] = []


class TemplatePolicy(_Strict):
    """The approval chain for message templates: 1 to 4 named levels, in order."""

    levels: list[str] = Field(default=["compliance", "legal"], min_length=1, max_length=4)


class ContentPolicy(_Strict):
    block: list[str] = []
    block_sms: list[str] = []


class ReputationPolicy(_Strict):
    """Number reputation from reports (reputation/): every weight and time constant, in one place.

    Each field's description is shown by `reachguard lookup` and the reputation API, so a
    reader sees why a number got its label. Docs: docs/reputation.md.
    """

    half_life_days: float = Field(90.0, gt=0, le=3650, description="a report's weight halves every this many days")
    new_reporter_weight: float = Field(0.5, ge=0, le=1, description="weight of a reporter at their first report")
    established_after_days: float = Field(30.0, gt=0, le=3650,
                                          description="a reporter's weight grows linearly to 1 over this many days since their first report")
    burst_half_life_hours: float = Field(1.0, gt=0, le=720,
                                         description="the reporter's recent-report counter halves every this many hours")
    burst_allowance: float = Field(10.0, ge=1, le=10_000,
                                   description="recent reports a reporter may file without damping; above it weight x allowance/peak")
    consensus_min_reporters: int = Field(3, ge=1, le=1000,
                                         description="other reporters a number needs before a report can agree or disagree with it")
    consensus_share: float = Field(0.6, gt=0, le=1, description="share of those reporters the top label needs to be a consensus")
    agreement_prior: float = Field(2.0, gt=0, le=1000,
                                   description="pseudo-agreements added to a reporter's record (new reporters start trusted)")
    contrarian_floor: float = Field(0.2, ge=0, le=1, description="lowest weight factor a reporter who keeps disagreeing falls to")
    evidence_prior: float = Field(1.0, gt=0, le=1000,
                                  description="weight added to the total before confidence = top label weight / total")
    traffic_window_days: float = Field(90.0, gt=0, le=3650,
                                       description="the gatewayed sender's own traffic is counted over this many days")
    traffic_min_contacts: int = Field(50, ge=1, description="fewest allowed contacts before traffic rates count")
    complaint_rate_weight: float = Field(3.0, ge=0, description="harassment weight of a complaint rate at its reference")
    complaint_rate_reference: float = Field(0.01, gt=0, le=1, description="complaint rate (per allowed contact) that counts fully")
    opt_out_rate_weight: float = Field(1.0, ge=0, description="harassment weight of an opt-out rate at its reference")
    opt_out_rate_reference: float = Field(0.05, gt=0, le=1, description="opt-out rate (per allowed contact) that counts fully")
    denied_share_weight: float = Field(2.0, ge=0, description="harassment weight of a denied-attempt share at its reference")
    denied_share_reference: float = Field(0.3, gt=0, le=1, description="share of denied attempts that counts fully")
    traffic_cache_seconds: float = Field(300.0, ge=0, le=86_400, description="how long a sender's traffic figures are cached")


class Policy(_Strict):
    """One organisation's effective policy: a profile plus its overrides."""

    name: str
    timezone: str = "Asia/Shanghai"
    fallback_timezone: str = "Asia/Shanghai"
    marketing: MarketingPolicy = MarketingPolicy()
    collection: CollectionPolicy = CollectionPolicy()
    service: ServicePolicy = ServicePolicy()
    content: ContentPolicy = ContentPolicy()
    templates: TemplatePolicy = TemplatePolicy()
    reputation: ReputationPolicy = ReputationPolicy()
    citations: dict[str, str] = {}

    @field_validator("timezone", "fallback_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value == "recipient":
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _fallback_is_a_zone(self) -> "Policy":
        if self.fallback_timezone == "recipient":
            raise ValueError("fallback_timezone must be a real zone")
        return self

    def cite(self, key: str) -> str:
        return self.citations.get(key, "")

    def for_purpose(self, purpose: str) -> MarketingPolicy | CollectionPolicy | ServicePolicy:
        if purpose == "marketing":  # called by several rules per decision: no dict per call
            return self.marketing
        return self.collection if purpose == "collection" else self.service

    def zones_for(self, e164: str) -> tuple[ZoneInfo, ...]:
        """The zones whose clocks govern a contact to this number (first: its calendar day)."""
        if self.timezone != "recipient":
            return (_zone(self.timezone),)
        names = time_zones(e164) or (self.fallback_timezone,)
        return tuple(_zone(name) for name in names)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
