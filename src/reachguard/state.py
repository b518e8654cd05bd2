"""What the rules see about one recipient: plain records loaded from the store.

Times are POSIX seconds (float, UTC) so that every backend stores and compares them the
same way; channels are a bitmask so "covers this channel" is one AND.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

CHANNEL_BITS: dict[str, int] = {"sms": 1, "call": 2, "robocall": 4, "push": 8}
ALL_CHANNELS = 15


def channel_mask(channels: Iterable[str] | None) -> int:
    """Bitmask of a channel list; None (absent in the event) means every channel."""
    if channels is None:
        return ALL_CHANNELS
    mask = 0
    for name in channels:
        mask |= CHANNEL_BITS[name]
    return mask


@dataclass(slots=True)
class ConsentRecord:
    """A consent (withdrawn=False) or its withdrawal (withdrawn=True), in recording order."""

    seq: int
    channels: int
    at: float
    expires_at: float | None
    withdrawn: bool


@dataclass(slots=True)
class OptOutRecord:
    """An opt-out, or a complaint (kind='complaint'); org None = every org."""

    org: str | None
    channels: int
    at: float
    kind: str = "opt_out"


@dataclass(slots=True)
class ContactRecord:
    """An allowed attempt: it counts for caps and cooldowns."""

    org: str
    number: str
    channel: str
    purpose: str
    relation: str
    subject: str | None
    at: float


@dataclass(slots=True)
class OutcomeRecord:
    subject: str | None
    result: str
    at: float


@dataclass(slots=True)
class AccountRecord:
    org: str
    subject: str
    borrower: str
    days_past_due: int
    contacts: dict[str, bool]  # E.164 number -> authorized by the borrower
    at: float


@dataclass(slots=True)
class RecipientState:
    """Everything recorded about one number that a decision for one org needs."""

    number: str
    consents: list[ConsentRecord] = field(default_factory=list)  # this org's, oldest first
    opt_outs: list[OptOutRecord] = field(default_factory=list)  # every org's
    lists: set[str] = field(default_factory=set)
    contacts: list[ContactRecord] = field(default_factory=list)  # this org's, recent
    outcomes: list[OutcomeRecord] = field(default_factory=list)  # this org's to this number
    account: AccountRecord | None = None
    subject_contacts: list[ContactRecord] = field(default_factory=list)  # this org's about the subject
    borrower_outcomes: list[OutcomeRecord] = field(default_factory=list)  # for third-party checks
