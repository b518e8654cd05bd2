"""The engine's own judgement, for the rows (or signatures) the scrub cannot settle set-wise.

Why the real Gateway and not a copy of its rules: answers must not drift. A row is judged by
`Gateway.decide` / `decide_many` — the same normalisation, state loading (`load_states`),
effective relation, rules and defer/deny logic as a live attempt — running inside the scrub's
snapshot transaction through `SnapshotStore`. Two gateways share it: `probe` never records (it
judges the representatives of a signature), `exact` records contacts only with --reserve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Sequence

from reachguard.engine import Gateway
from reachguard.ledger.chain import canonical
from reachguard.model import Attempt, Decision
from reachguard.policy import PolicyBook
from reachguard.scrub.snapshot import SnapshotStore
from reachguard.state import ContactRecord
from reachguard.store import SQLiteStore
from reachguard.verification import issue_code

PROBE_SECRET = b"reachguard-scrub probe: its codes are never issued or recorded"
BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """A verdict and its reason codes in the engine's order (what the rejected file shows)."""

    verdict: str
    codes: tuple[str, ...]

    @classmethod
    def of(cls, decision: Decision) -> "Outcome":
        return cls(decision.verdict, tuple(reason.code for reason in decision.reasons))


class Judge:
    """Attempts built from list rows, decided by real gateways over the snapshot."""

    def __init__(self, snap: SQLiteStore, policies: PolicyBook, *, org: str, purpose: str, channel: str,
                 at: datetime, reserve: bool, secret: bytes | None = None):
        self.org, self.purpose, self.channel, self.at = org, purpose, channel, at
        self.reserve = reserve
        self.probe = Gateway(SnapshotStore(snap, record=False), policies, secret=PROBE_SECRET)
        self.recorder = SnapshotStore(snap, record=reserve)
        # With --reserve the codes recorded must be the store's own, as decide would issue them.
        self.exact = Gateway(self.recorder, policies, secret=(secret if reserve else PROBE_SECRET))
        self.snap = snap

    def attempt(self, raw: str, subject: str | None, relation: str | None) -> Attempt:
        return Attempt(org=self.org, channel=self.channel, purpose=self.purpose, to=raw, at=self.at,  # type: ignore[arg-type]
                       relation=relation or None, subject=subject or None)  # type: ignore[arg-type]

    def one(self, raw: str, subject: str | None, relation: str | None) -> Outcome:
        """Judge without recording (a signature's representative)."""
        return Outcome.of(self.probe.decide(self.attempt(raw, subject, relation)))

    def many(self, rows: Sequence[tuple[str, str | None, str | None]],
             progress: Callable[[int], None] | None = None) -> list[Outcome]:
        """Judge rows in order, in batches, each seeing the contacts reserved before it."""
        results: list[Outcome] = []
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            results.extend(Outcome.of(d) for d in self.exact.decide_many([self.attempt(*row) for row in chunk]))
            if progress is not None:
                progress(len(results))
        return results

    def reserve_rows(self, rows: Iterable[tuple[str, str | None, str | None]]) -> int:
        """Record allowed rows judged set-wise as contacts, exactly as decide records one."""
        secret: bytes = self.exact._secret  # the store's verification secret (Gateway loads it)
        ts = self.at.timestamp()
        contacts = []
        count = 0
        for number, subject, relation in rows:
            count += 1
            attempt = self.attempt(number, subject, relation)
            code = issue_code(secret, self.org, number, ts, None) if self.channel == "sms" else None
            record = ContactRecord(self.org, number, self.channel, self.purpose, attempt.effective_relation, attempt.subject, ts)
            contacts.append((record, None, None, code))
            if len(contacts) >= 50_000:
                self.recorder.record_contacts(contacts)
                contacts = []
        self.recorder.record_contacts(contacts)
        return count

    def ledger_summary(self, report: dict) -> None:
        """One ledger entry for a reserving scrub: what was reserved, and a digest of the numbers.

        Per-row entries would double a big scrub's time; the digest lets an auditor check a
        list of reserved numbers against the chain (sha256 of `number\n`, in recording order).
        """
        body = canonical({**report, "reserved": self.recorder.recorded, "numbers_sha256": self.recorder.digest.hexdigest()})
        self.snap.ledger_append([(self.org, "scrub_reserve", self.at.timestamp(), None, None, body)])
