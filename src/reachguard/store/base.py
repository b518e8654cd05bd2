"""The store interface every backend implements (SQLite embedded, PostgreSQL, +Redis).

The engine asks for one recipient's state inside `transaction(org, number)`; a backend
guarantees that two transactions for the same org and number never interleave, which is
what makes check-then-record of frequency caps atomic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Iterator, Sequence

from reachguard.ledger.chain import LedgerEntry
from reachguard.state import AccountRecord, RecipientState
from reachguard.store.errors import BadDatabaseUrl, StoreUnavailable  # noqa: F401  (re-exported)
from reachguard.store.rows import (  # noqa: F401  (re-exported)
    AggregateRow, ApiKeyRecord, AppealRow, Checkpoint, ComplaintCase, NewContact, PendingEntry, ReporterRow, ReportRow,
    StateQuery,
)
from reachguard.store.sql_common import (  # noqa: F401  (re-exported)
    LEDGER_PAGE, NUMBER_RECORD_QUERIES, and_where, decision_filters, number_records_from, paged_ledger_range,
)
from reachguard.store.urls import POSTGRES_SCHEMES, is_postgres_url  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from reachguard.store.sqlite_snapshot import StateSnapshot


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

    def snapshot_states(self, queries: Sequence[StateQuery]) -> "StateSnapshot | None":
        """`load_states` read outside the write lock, to be checked by `snapshot_holds` under it
        (store/sqlite_snapshot.py); None where a backend does not offer it."""
        return None

    def snapshot_holds(self, snapshot: "StateSnapshot") -> bool:
        """Inside a transaction: are the snapshot's states still what `load_states` would read?"""
        return False

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

    def init_meta(self, key: str, value: str) -> str:
        """Store `value` under `key` unless one is there; the stored value either way. Backends
        override it to be atomic, so processes starting together agree (e.g. on a secret)."""
        stored = self.get_meta(key)
        if stored is None:
            self.set_meta(key, value)
            stored = value
        return stored

    @abstractmethod
    def close(self) -> None: ...

    # --- complaint cases (web console: docs/console.md) ----------------------------------
    # Not abstract: a backend without them serves the console's complaint queue read-only.

    def complaint_cases_add(self, cases: "Sequence[ComplaintCase]") -> None:
        """Open a case for each complaint not seen before (key: org + its ledger seq)."""
        raise NotImplementedError("this store keeps no complaint cases")

    def complaint_cases(self, org: str, limit: int = 500) -> "list[ComplaintCase]":
        """The org's cases: unresolved first, then by time received."""
        raise NotImplementedError("this store keeps no complaint cases")

    def complaint_case_update(self, org: str, seq: int, status: str, assignee: str | None, reply: str | None,
                              at: float) -> bool:
        """Set a case's status, assignee and reply (stamping acknowledged/resolved times the
        first time they are reached); False if the org has no such case."""
        raise NotImplementedError("this store keeps no complaint cases")

    # --- console sessions (web console: docs/console.md) ---------------------------------
    # Abstract: without them a logout could not end a session, so a backend must have them.

    @abstractmethod
    def end_console_session(self, session_id: str, issued_at: float, keep_after: float) -> None:
        """Record a console session (its cookie signed at `issued_at`) as ended: logged out.
        Records of sessions issued before `keep_after` are dropped here (the caller passes a
        time before which every cookie is refused for its age), so the table stays bounded."""

    @abstractmethod
    def console_session_ended(self, session_id: str) -> bool:
        """Whether the console session was ended (every worker asks the store, not a cache)."""

    # --- service (keys, checkpoints, reads) ---------------------------------------------
    # Added for the HTTP service (api/), the audit commands (cli/audit.py) and checkpoints
    # (ledger/checkpoint.py). Every backend implements them; nothing above changed.

    @abstractmethod
    def add_api_key(self, key: "ApiKeyRecord", key_hash: str) -> None:
        """Store a new API key: only its SHA-256 (`key_hash`, hex) is kept, never the key."""

    @abstractmethod
    def api_key_by_hash(self, key_hash: str) -> "ApiKeyRecord | None":
        """The key with that hash (revoked ones too: the caller checks `revoked_at`)."""

    @abstractmethod
    def api_keys(self, org: str | None = None) -> "list[ApiKeyRecord]":
        """Every key (of one org), oldest first."""

    @abstractmethod
    def revoke_api_key(self, key_id: str, at: float, org: str | None = None) -> bool:
        """Mark a key revoked (only within `org` when given); False if no such live key."""

    @abstractmethod
    def ledger_head(self, org: str) -> tuple[int, str] | None:
        """(seq, entry_hash) of the org's last ledger entry, None for an empty chain."""

    @abstractmethod
    def ledger_range(self, org: str, seq_from: int, seq_to: int) -> Iterator[LedgerEntry]:
        """An org's entries with seq_from <= seq <= seq_to, in chain order (contiguous)."""

    @abstractmethod
    def ledger_seq_bounds(self, org: str, at_from: float | None, at_to: float | None) -> tuple[int, int] | None:
        """(first seq, last seq) of the org's entries with at_from <= at < at_to, None if none."""

    @abstractmethod
    def add_checkpoint(self, checkpoint: "Checkpoint") -> None:
        """Store a signed checkpoint (org, seq) → entry_hash."""

    @abstractmethod
    def checkpoints(self, org: str, seq_from: int | None = None, seq_to: int | None = None) -> "list[Checkpoint]":
        """An org's checkpoints (optionally seq_from <= seq <= seq_to), by seq."""

    @abstractmethod
    def checkpoint_orgs(self) -> list[str]:
        """Every org with a signed checkpoint: an audit walks these as well as the orgs with
        entries, so a chain whose entries were all deleted still shows."""

    @abstractmethod
    def number_history(self, org: str, number: str, limit: int = 500) -> list[LedgerEntry]:
        """Ledger entries about `number` in the org's chain and in the global chain
        (GLOBAL_ORG), the most recent `limit`, oldest first."""

    @abstractmethod
    def number_records(self, org: str, number: str) -> dict[str, list[dict]]:
        """What is recorded about `number` that concerns `org`, as plain rows:
        `consents`, `opt_outs` (this org's and every-org ones, complaints included),
        `lists`, `accounts` (as borrower or designated contact), `outcomes`, `contacts`
        (the last 100 allowed attempts), `inbound` (replies naming this org or none).
        Times are POSIX seconds."""

    @abstractmethod
    def decisions(
        self,
        org: str,
        at_from: float | None = None,
        at_to: float | None = None,
        verdict: str | None = None,
        reason: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[LedgerEntry]:
        """An org's decision entries (kind 'decision') in chain order after `after_seq`,
        filtered by time (at_from <= at < at_to), verdict (tag) and a reason code."""

    @abstractmethod
    def contact_by_code(self, code: str, number: str) -> tuple[str, float] | None:
        """(org, at) of the allowed attempt to `number` that was issued `code`."""

    # --- reputation (reports, appeals, sender numbers) -----------------------------------
    # Added for number reputation (reputation/). The logic lives there; these are storage.

    @abstractmethod
    def report_aggregates(self, numbers: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        """number -> (packed votes, reports filed), for the numbers that have any."""

    @abstractmethod
    def reporters(self, hashes: Sequence[bytes]) -> dict[bytes, ReporterRow]:
        """The rows of these reporters (keyed hashes) that exist."""

    @abstractmethod
    def save_reports(self, reports: Sequence[ReportRow], aggregates: Sequence[AggregateRow],
                     reporters: Sequence[ReporterRow]) -> None:
        """Append reports to the log and replace the given aggregate and reporter rows, atomically."""

    def report_log(self, after: int, limit: int) -> list[tuple[int, ReportRow]]:
        """Up to `limit` (seq, report) of the reports log with seq > `after`, in log order."""
        raise NotImplementedError(f"{type(self).__name__} keeps no reports log")

    def last_report_seq(self) -> int:
        """The seq of the newest report in the log (0 when it is empty)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no reports log")

    def clear_report_aggregates(self) -> None:
        """Delete every aggregate and reporter row (the log stays): the start of a rebuild."""
        raise NotImplementedError(f"{type(self).__name__} keeps no report aggregates")

    @abstractmethod
    def add_appeal(self, number: str, org: str, label: str | None, reason: str, at: float) -> int:
        """Record an org's appeal against a number's label; returns its id. Reports stay."""

    @abstractmethod
    def appeals(self, number: str) -> list[AppealRow]:
        """Every appeal about the number, oldest first."""

    @abstractmethod
    def set_sender_number(self, number: str, org: str, at: float, registered: bool = True) -> None:
        """Register (or, registered=False, remove) a number an org sends from."""

    @abstractmethod
    def sender_number_org(self, number: str) -> str | None:
        """The org that registered the number as its own, if any."""

    @abstractmethod
    def sender_numbers(self, org: str) -> list[tuple[str, float]]:
        """(number, registered at) of the org's registered sender numbers."""

    @abstractmethod
    def org_traffic(self, org: str, since: float) -> tuple[int, int, int, int, int]:
        """The org's traffic since `since`: (allowed contacts, complaints naming it, opt-outs
        naming it, decisions, denied decisions)."""

    # --- templates (content review: approval chain) -------------------------------------

    @abstractmethod
    def template_add_version(self, org: str, template_id: str, text: str, author: str, at: float) -> int:
        """Store a new version of a template; returns its version number (1, 2, …)."""

    @abstractmethod
    def template_version(self, org: str, template_id: str, version: int | None = None) -> "tuple | None":
        """(org, template_id, version, text, author, at) of the latest or given version."""

    @abstractmethod
    def template_add_review(self, org: str, template_id: str, version: int, level: int, level_name: str,
                            reviewer: str, verdict: str, comment: str, at: float) -> None: ...

    @abstractmethod
    def template_reviews(self, org: str, template_id: str, version: int) -> list[tuple]:
        """(level, level_name, reviewer, verdict, comment, at) in level order."""

    @abstractmethod
    def template_ids(self, org: str) -> list[str]: ...
