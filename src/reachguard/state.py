"""What the rules see about one recipient: plain records loaded from the store.

Times are POSIX seconds (float, UTC) so that every backend stores and compares them the
same way; channels are a bitmask so "covers this channel" is one AND.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(slots=True, init=False)
class RecipientState:
    """Everything recorded about one number that a decision for one org needs.

    A hand-written __init__: the generated one calls a default factory per field, and a batch
    makes one state per attempt (~30 % cheaper)."""

    number: str
    consents: list[ConsentRecord]  # this org's, oldest first
    opt_outs: list[OptOutRecord]  # every org's
    lists: set[str]
    contacts: list[ContactRecord]  # this org's, recent
    outcomes: list[OutcomeRecord]  # this org's to this number
    account: AccountRecord | None
    subject_contacts: list[ContactRecord]  # this org's about the subject
    borrower_outcomes: list[OutcomeRecord]  # for third-party checks

    def __init__(
        self,
        number: str,
        consents: list[ConsentRecord] | None = None,
        opt_outs: list[OptOutRecord] | None = None,
        lists: set[str] | None = None,
        contacts: list[ContactRecord] | None = None,
        outcomes: list[OutcomeRecord] | None = None,
        account: AccountRecord | None = None,
        subject_contacts: list[ContactRecord] | None = None,
        borrower_outcomes: list[OutcomeRecord] | None = None,
    ):
        self.number = number
        self.consents = [] if consents is None else consents
        self.opt_outs = [] if opt_outs is None else opt_outs
        self.lists = set() if lists is None else lists
        self.contacts = [] if contacts is None else contacts
        self.outcomes = [] if outcomes is None else outcomes
        self.account = account
        self.subject_contacts = [] if subject_contacts is None else subject_contacts
        self.borrower_outcomes = [] if borrower_outcomes is None else borrower_outcomes

    def with_account(
        self, account: AccountRecord | None, borrower_outcomes: list[OutcomeRecord], subject_contacts: list[ContactRecord]
    ) -> "RecipientState":
        """A copy for one debt: the same record lists (shared, so contacts a batch records count
        for every attempt to the number), with this account's parts. Cheaper than dataclasses.replace."""
        return RecipientState(self.number, self.consents, self.opt_outs, self.lists, self.contacts, self.outcomes,
                              account, subject_contacts, borrower_outcomes)
