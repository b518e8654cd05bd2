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
        return {"marketing": self.marketing, "collection": self.collection}.get(purpose, self.service)

    def zones_for(self, e164: str) -> tuple[ZoneInfo, ...]:
        """The zones whose clocks govern a contact to this number (first: its calendar day)."""
        if self.timezone != "recipient":
            return (_zone(self.timezone),)
        names = time_zones(e164) or (self.fallback_timezone,)
        return tuple(_zone(name) for name in names)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
