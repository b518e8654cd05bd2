"""The store interface every backend implements (SQLite embedded, PostgreSQL, +Redis).

The engine asks for one recipient's state inside `transaction(org, number)`; a backend
guarantees that two transactions for the same org and number never interleave, which is
what makes check-then-record of frequency caps atomic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from reachguard.ledger.chain import LedgerEntry
from reachguard.state import AccountRecord, ContactRecord, RecipientState

if TYPE_CHECKING:
    from reachguard.store.sqlite_snapshot import StateSnapshot


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


POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")
"""The URL schemes of the PostgreSQL backends; anything else names a SQLite store."""


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached; decisions must fail closed."""


class BadDatabaseUrl(StoreUnavailable, ValueError):
    """The database URL is wrong (its form, or a parameter): the commands report it as they
    report a store they cannot open; library callers may catch it as the ValueError it also is.
    Here, not in pg_engine, so that SQLite URLs can raise it without importing SQLAlchemy."""


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


# The per-number reads behind Store.number_records, written once for every backend: each is
# (section, SQL with `?` placeholders for (number[, org]), column names). Backends that use
# another placeholder style translate `?` before running them.
NUMBER_RECORD_QUERIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("consents", "SELECT channels, at, expires_at, withdrawn, evidence FROM consents WHERE number=? AND org=? ORDER BY seq",
     ("channels", "at", "expires_at", "withdrawn", "evidence")),
    ("opt_outs", "SELECT org, channels, at, kind, note FROM opt_outs WHERE number=? AND (org=? OR org IS NULL) ORDER BY seq",
     ("org", "channels", "at", "kind", "note")),
    ("lists", "SELECT list, at FROM dnc WHERE number=? ORDER BY list", ("list", "at")),
    ("accounts", "", ()),  # backend-specific (designated contacts are JSON): filled in by the caller
    ("outcomes", "SELECT subject, result, at FROM outcomes WHERE number=? AND org=? ORDER BY seq", ("subject", "result", "at")),
    ("contacts", "SELECT channel, purpose, relation, subject, at, attempt_id, agent FROM contacts "
     "WHERE number=? AND org=? ORDER BY at DESC, seq DESC LIMIT 100",
     ("channel", "purpose", "relation", "subject", "at", "id", "agent")),
    ("inbound", "SELECT recipient, org, text, at FROM inbound WHERE sender=? AND (org=? OR org IS NULL) ORDER BY seq",
     ("to", "org", "text", "at")),
)


def number_records_from(fetch: Callable[[str, tuple], Iterable[Sequence[Any]]], org: str, number: str,
                        accounts: list[dict]) -> dict[str, list[dict]]:
    """Store.number_records from one backend's `fetch(sql, params)`; contacts oldest first."""
    records: dict[str, list[dict]] = {}
    for section, sql, names in NUMBER_RECORD_QUERIES:
        if section == "accounts":
            records[section] = accounts
            continue
        params = (number,) if sql.count("?") == 1 else (number, org)
        records[section] = [dict(zip(names, row)) for row in fetch(sql, params)]
    records["contacts"].reverse()  # the newest 100, shown in time order
    return records


LEDGER_PAGE = 5000


def paged_ledger_range(fetch: Callable[[int], Sequence[Sequence[Any]]], seq_from: int, seq_to: int) -> Iterator[LedgerEntry]:
    """`Store.ledger_range` for every SQL dialect: `fetch(start)` returns up to LEDGER_PAGE rows
    (the LedgerEntry columns, in seq order) from `start` to `seq_to`; a page at a time, so an
    export of millions of entries never holds them all."""
    start = seq_from
    while start <= seq_to:
        rows = fetch(start)
        for row in rows:
            yield LedgerEntry(*row)
        if len(rows) < LEDGER_PAGE:
            return
        start = rows[-1][1] + 1


def and_where(*clauses: tuple[str, Any]) -> tuple[str, list[Any]]:
    """` AND clause` for each (clause, value) whose value is given, and those values: the optional
    filters of the ledger and checkpoint reads, for every SQL dialect (each clause carries its own
    placeholder)."""
    given = [(clause, value) for clause, value in clauses if value is not None]
    return "".join(" AND " + clause for clause, _ in given), [value for _, value in given]


def decision_filters(
    p: str, reason_exists: str, org: str, after_seq: int, at_from: float | None, at_to: float | None,
    verdict: str | None, reason: str | None, limit: int,
) -> tuple[str, list[Any]]:
    """The `WHERE … ORDER BY seq LIMIT …` tail of `Store.decisions` and its parameters, for every
    SQL dialect: `p` is its placeholder, `reason_exists` its `EXISTS (…)` clause matching a reason
    code in the entry's JSON body (the one part the dialects spell differently)."""
    extra, values = and_where((f"at >= {p}", at_from), (f"at < {p}", at_to), (f"tag = {p}", verdict), (reason_exists, reason))
    sql = f" WHERE org = {p} AND seq > {p} AND kind = 'decision'{extra} ORDER BY seq LIMIT {p}"
    return sql, [org, after_seq, *values, limit]
