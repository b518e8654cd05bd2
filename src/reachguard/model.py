"""Domain types: the contract's events and the decision answered for an attempt.

msgspec structs, because every event of a million-line stream and every API body goes
through them: unknown fields are refused (a typo must never silently mean "no consent"),
times must carry an offset, enums are closed, and text has a size limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union

import msgspec

from reachguard.timeutil import range_problem

# --- field types -------------------------------------------------------------------------

AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
"""An ISO-8601 time with an offset; a naive time is rejected at decode."""

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
"""Org ids, list names, subject ids, agent ids."""

NumberText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
"""A phone number as written; normalised to E.164 after decode (see numbers.py)."""

MAX_TEXT_CHARS = 10_000
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]

Channel = Literal["sms", "call", "robocall", "push"]
Purpose = Literal["marketing", "collection", "service"]
Relation = Literal["borrower", "contact", "guarantor", "prospect"]
OutcomeResult = Literal["conversation", "no_answer", "voicemail", "wrong_number", "refused"]
Verdict = Literal["allow", "deny", "defer"]
ReportLabel = Literal["harassment", "collection", "loan_marketing", "fraud", "other"]
REPORT_LABELS: tuple[ReportLabel, ...] = ("harassment", "collection", "loan_marketing", "fraud", "other")

CHANNELS: tuple[Channel, ...] = ("sms", "call", "robocall", "push")
VOICE_CHANNELS: frozenset[str] = frozenset({"call", "robocall"})


class _Event(msgspec.Struct, forbid_unknown_fields=True, tag_field="type", kw_only=True):
    """Base of every event: closed field set, tagged by `type`, a time inside the range the
    engine can compute with (timeutil.EARLIEST..LATEST; decode reports INVALID_TIME)."""

    def __post_init__(self) -> None:
        problem = range_problem(self.at, "at")  # type: ignore[attr-defined]  # every event has `at`
        if problem is not None:
            raise ValueError(problem)


# --- state-changing events -----------------------------------------------------------------


class Consent(_Event, tag="consent"):
    org: Name
    to: NumberText
    purpose: Literal["marketing"]
    at: AwareTime
    channels: list[Channel] | None = None
    expires_at: AwareTime | None = None
    evidence: Text | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        problem = None if self.expires_at is None else range_problem(self.expires_at, "expires_at")
        if problem is not None:
            raise ValueError(f"{problem}; leave `expires_at` out for a consent that does not expire")


class ConsentWithdrawn(_Event, tag="consent_withdrawn"):
    org: Name
    to: NumberText
    at: AwareTime
    purpose: Literal["marketing"] = "marketing"
    channels: list[Channel] | None = None


class OptOut(_Event, tag="opt_out"):
    to: NumberText
    at: AwareTime
    org: Name | None = None
    channels: list[Channel] | None = None
    source: Annotated[str, msgspec.Meta(max_length=256)] | None = None


class Dnc(_Event, tag="dnc"):
    list: Name
    to: NumberText
    at: AwareTime
    remove: bool = False


class AccountContact(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: NumberText
    authorized: bool = False
    name: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class Account(_Event, tag="account"):
    org: Name
    subject: Name
    borrower: NumberText
    at: AwareTime
    days_past_due: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 0
    contacts: Annotated[list[AccountContact], msgspec.Meta(max_length=100)] = []


class InboundSms(_Event, tag="inbound_sms"):
    # `from` is a Python keyword: the struct field is `sender`, encoded as "from".
    sender: NumberText = msgspec.field(name="from")
    to: NumberText
    text: Text
    at: AwareTime
    org: Name | None = None


class Outcome(_Event, tag="outcome"):
    org: Name
    to: NumberText
    at: AwareTime
    result: OutcomeResult
    subject: Name | None = None


class Complaint(_Event, tag="complaint"):
    to: NumberText
    at: AwareTime
    org: Name | None = None
    text: Text | None = None


class Attempt(_Event, tag="attempt"):
    org: Name
    channel: Channel
    purpose: Purpose
    to: NumberText
    at: AwareTime
    id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    relation: Relation | None = None
    subject: Name | None = None
    content: Text | None = None
    agent: Name | None = None
    template: Name | None = None

    @property
    def effective_relation(self) -> str:
        """The contract's default: `prospect` for marketing, `borrower` otherwise."""
        if self.relation is not None:
            return self.relation
        return "prospect" if self.purpose == "marketing" else "borrower"


class Report(_Event, tag="report"):
    """A recipient reports a number (reputation/). `reporter` is an opaque id that is kept
    only as a keyed hash (HMAC with a server secret), never as sent."""

    to: NumberText
    label: ReportLabel
    reporter: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    at: AwareTime
    text: Text | None = None


Event = Union[Consent, ConsentWithdrawn, OptOut, Dnc, Account, InboundSms, Outcome, Complaint, Attempt, Report]
STATE_EVENTS = (Consent, ConsentWithdrawn, OptOut, Dnc, Account, InboundSms, Outcome, Complaint)


# --- answers -----------------------------------------------------------------------------


class Reason(msgspec.Struct, frozen=True):
    """Why an attempt was not allowed: a stable code, a plain message, the rule's citation."""

    code: str
    message: str
    citation: str


class Finding(msgspec.Struct, frozen=True):
    """A content-review finding; `span` indexes the original text."""

    code: str
    span: tuple[int, int]
    evidence: str
    message: str
    citation: str


class Decision(msgspec.Struct):
    """The answer to one attempt, field order as in the contract."""

    id: str | None
    verdict: Verdict
    to: str
    reasons: list[Reason]
    retry_at: datetime | None = None
    findings: list[Finding] = []
    verification_code: str | None = None


class ErrorBody(msgspec.Struct):
    code: str
    message: str
    line: int | None = None


class ErrorLine(msgspec.Struct):
    error: ErrorBody
