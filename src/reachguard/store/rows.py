"""The data the Store interface passes (row tuples, the state query, the service records),
apart from the interface (base.py) so the backends and callers share one definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from reachguard.state import ContactRecord


PendingEntry = tuple[str, str, float, "str | None", "str | None", bytes]
"""(org, kind, at, number, tag, canonical body) of a ledger entry still to be chained."""

NewContact = tuple[ContactRecord, "str | None", "str | None", "str | None"]

ReportRow = tuple[str, str, bytes, float, "str | None"]
"""(number, label, reporter hash, at, text) of one report, as appended to the reports log."""

ReporterRow = tuple[bytes, float, float, int, float, float, float, int, int]
"""(reporter hash, first_at, last_at, reports, burst, burst_at, peak burst, agreements, disagreements)."""

AggregateRow = tuple[str, bytes, int]
"""(number, packed votes: the latest label of each distinct reporter, reports filed) — reputation/votes.py."""

AppealRow = tuple[int, str, str, "str | None", str, float]
"""(appeal id, number, org, label appealed or None for every label, reason, at)."""


class StateQuery(NamedTuple):
    """What a decision needs loaded: which tables, for which org, number, subject.

    A NamedTuple (immutable like the frozen dataclass it was, a quarter of the cost to build:
    a batch makes one per attempt)."""

    org: str
    number: str
    purpose: str
    subject: str | None
    contacts_since: float
    need_subject_contacts: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored (without the key): who it acts for and with which role."""

    key_id: str
    org: str
    role: str
    created_at: float
    revoked_at: float | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: at `signed_at`, entry `seq` of `org`'s chain had `entry_hash`."""

    org: str
    seq: int
    entry_hash: str
    signed_at: float
    key_id: str  # fingerprint of the signing public key
    signature: str  # hex Ed25519 signature over ledger.checkpoint.checkpoint_message(...)


@dataclass(frozen=True, slots=True)
class ComplaintCase:
    """The handling of one complaint: the complaint is its org's ledger entry `seq`."""

    org: str
    seq: int
    number: str | None
    at: float
    text: str | None
    status: str = "new"  # new → acknowledged → resolved
    assignee: str | None = None
    reply: str | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    updated_at: float | None = None
