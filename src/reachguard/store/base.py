"""The store interface every backend implements (SQLite embedded, PostgreSQL, +Redis).

The engine asks for one recipient's state inside `transaction(org, number)`; a backend
guarantees that two transactions for the same org and number never interleave, which is
what makes check-then-record of frequency caps atomic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Iterator, Sequence

from reachguard.ledger.chain import LedgerEntry
from reachguard.state import AccountRecord, ContactRecord, RecipientState


PendingEntry = tuple[str, str, float, "str | None", "str | None", bytes]
"""(org, kind, at, number, tag, canonical body) of a ledger entry still to be chained."""

NewContact = tuple[ContactRecord, "str | None", "str | None", "str | None"]


@dataclass(frozen=True, slots=True)
class StateQuery:
    """What a decision needs loaded: which tables, for which org, number, subject."""

    org: str
    number: str
    purpose: str
    subject: str | None
    contacts_since: float
    need_subject_contacts: bool = False


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached; decisions must fail closed."""


class Store(ABC):
    """Persistent state: consents, opt-outs, lists, accounts, outcomes, contacts."""

    @abstractmethod
    def transaction(self, org: str | None = None, number: str | None = None) -> AbstractContextManager[None]:
        """A unit of work; nested calls join the outer one. With org+number: locked for them."""

    @abstractmethod
    def load_state(self, query: StateQuery) -> RecipientState: ...

    @abstractmethod
    def load_states(self, queries: Sequence[StateQuery]) -> list[RecipientState]:
        """One state per query, in order; queries for the same org and number share their
        record lists, so a contact appended for one is seen by the next (batches)."""

    @abstractmethod
    def record_contacts(self, contacts: Sequence[NewContact]) -> None:
        """Record allowed attempts: (contact, attempt id, agent, verification code)."""

    @abstractmethod
    def add_consent(self, org: str, number: str, channels: int, at: float, expires_at: float | None, evidence: str | None) -> None: ...

    @abstractmethod
    def withdraw_consent(self, org: str, number: str, channels: int, at: float) -> None: ...

    @abstractmethod
    def add_opt_out(self, number: str, org: str | None, channels: int, at: float, kind: str, note: str | None) -> None:
        """kind: 'opt_out', or 'complaint' (note = the complaint's text)."""

    @abstractmethod
    def set_listed(self, list_name: str, number: str, at: float, listed: bool) -> None: ...

    @abstractmethod
    def upsert_account(self, account: AccountRecord) -> None: ...

    @abstractmethod
    def add_outcome(self, org: str, number: str, subject: str | None, result: str, at: float) -> None: ...

    @abstractmethod
    def add_inbound(self, sender: str, to: str, org: str | None, text: str, at: float) -> None: ...

    @abstractmethod
    def ledger_append(self, entries: Sequence[PendingEntry]) -> None:
        """Chain and append ledger entries, in order, inside the current transaction."""

    @abstractmethod
    def ledger_entries(self, org: str, at_from: float | None = None, at_to: float | None = None) -> Iterator[LedgerEntry]:
        """An org's ledger entries in chain order (optionally a time range)."""

    @abstractmethod
    def ledger_orgs(self) -> list[str]: ...

    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...
