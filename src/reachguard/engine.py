"""The Gateway: state + policy + rules (+ content review) → a decision, recorded atomically.

Pure in time: every rule reads the attempt's `at`, never the wall clock, so a replayed
stream gives the same answers. An allowed attempt is recorded as a contact inside the same
store transaction that loaded the state (or, for a SQLite batch, that proved its snapshot of
the state current), so concurrent deciders never exceed a cap.
"""

from __future__ import annotations

import os

import msgspec
from datetime import datetime
from typing import Iterable, Sequence

from reachguard import inbound, rules
from reachguard.attempt_review import NO_REVIEW, Review, review_attempt
from reachguard.core.memory import paused_gc
from reachguard.model import (
    Account,
    Attempt,
    Complaint,
    Consent,
    ConsentWithdrawn,
    Decision,
    Dnc,
    Event,
    InboundSms,
    OptOut,
    Outcome,
    Reason,
    Report,
)
from reachguard.numbers import InvalidNumber, normalize, try_normalize
from reachguard.policy import PolicyBook
from reachguard.policy.schema import Policy
from reachguard.reputation.ingest import record_reports
from reachguard.rules.base import Context, Hit
from reachguard.rules.kernel import Kernel, is_blank, kernel_for
from reachguard.state import AccountRecord, ContactRecord, RecipientState, channel_mask, CHANNEL_BITS
from reachguard.store import SQLiteStore, StateQuery, Store
from reachguard.ledger.chain import GLOBAL_ORG, canonical
from reachguard.store.base import NewContact, PendingEntry
from reachguard.state_query import DAY, NEVER, state_query
from reachguard.verification import issue_code

_MAX_RETRY_STEPS = 64


class Gateway:
    """Ask before every contact: `decide(attempt)`; feed it state with `apply(event)`.

    `kernels`: judge with a rule kernel per (policy, purpose, channel) (rules/kernel.py: only
    the rules that can fire are called). False calls every rule of the purpose — the plain
    path, kept so tests can check that both give the same answers.
    """

    kernels = True

    def __init__(self, store: Store | None = None, policies: PolicyBook | None = None, *, secret: bytes | None = None):
        self.store = store if store is not None else SQLiteStore(":memory:")
        self.policies = policies if policies is not None else PolicyBook.profile("cn")
        self._secret = secret if secret is not None else self._store_secret()

    def _store_secret(self) -> bytes:
        """The store's verification secret, created once (init_meta: the first process wins)."""
        stored = self.store.get_meta("verification_secret")
        if stored is None:
            stored = self.store.init_meta("verification_secret", os.urandom(32).hex())
        return bytes.fromhex(stored)

    # --- the event stream -----------------------------------------------------------------

    def handle(self, event: Event) -> Decision | None:
        """Apply a state event, or decide an attempt (the only kind that answers)."""
        if isinstance(event, Attempt):
            return self.decide(event)
        self.apply(event)
        return None

    def apply(self, event: Event) -> None:
        """Record a state-changing event, and its ledger entry, in one transaction.

        Raises InvalidNumber (and records nothing) for a number that is not one.
        A `report` goes to the reputation store instead, without a ledger entry: the ledger
        would keep the reporter's id in clear (reputation/keying.py).
        """
        body = canonical(msgspec.to_builtins(event))  # first: text with no UTF-8 form is refused before any write
        if isinstance(event, Report):
            record_reports(self.store, [event], policy=self.policies.default.reputation)
            return
        with self.store.transaction():
            number = self._apply_state(event)
            org = getattr(event, "org", None) or GLOBAL_ORG
            self.store.ledger_append([(org, event.__struct_config__.tag, event.at.timestamp(), number, None, body)])

    def _apply_state(self, event: Event) -> str | None:
        """Write the event's effect on the state; returns the number it concerns."""
        store = self.store
        at = event.at.timestamp()
        if isinstance(event, Consent):
            expires = event.expires_at.timestamp() if event.expires_at else None
            store.add_consent(event.org, normalize(event.to), channel_mask(event.channels), at, expires, event.evidence)
        elif isinstance(event, ConsentWithdrawn):
            store.withdraw_consent(event.org, normalize(event.to), channel_mask(event.channels), at)
        elif isinstance(event, OptOut):
            store.add_opt_out(normalize(event.to), event.org, channel_mask(event.channels), at, "opt_out", event.source)
        elif isinstance(event, Dnc):
            store.set_listed(event.list, normalize(event.to), at, not event.remove)
        elif isinstance(event, Account):
            contacts = {normalize(c.to): c.authorized for c in event.contacts}
            store.upsert_account(
                AccountRecord(event.org, event.subject, normalize(event.borrower), event.days_past_due, contacts, at)
            )
        elif isinstance(event, Outcome):
            store.add_outcome(event.org, normalize(event.to), event.subject, event.result, at)
        elif isinstance(event, Complaint):
            store.add_opt_out(normalize(event.to), event.org, channel_mask(None), at, "complaint", event.text)
        elif isinstance(event, InboundSms):
            return self._apply_reply(event, at)
        elif isinstance(event, Attempt):
            raise TypeError("attempts are decided, not applied: use decide()")
        return try_normalize(getattr(event, "to", ""))

    def _apply_reply(self, event: InboundSms, at: float) -> str:
        sender = normalize(event.sender)
        if "\x00" in event.to:  # kept as written when not E.164 (below): a NUL no store can hold
            raise InvalidNumber(f"not a valid phone number: {event.to[:40]!r}")
        recipient = try_normalize(event.to) or event.to  # SMS ports (106xxxx) are not E.164
        with self.store.transaction():
            self.store.add_inbound(sender, recipient, event.org, event.text, at)
            kind = inbound.classify_reply(event.text)
            if kind == "opt_out":
                self.store.add_opt_out(sender, event.org, channel_mask(None), at, "opt_out", "inbound_sms")
            elif kind == "complaint":
                self.store.add_opt_out(sender, event.org, channel_mask(None), at, "complaint", event.text)
        return sender

    # --- decisions ------------------------------------------------------------------------

    def decide(self, attempt: Attempt) -> Decision:
        number = try_normalize(attempt.to)
        policy = self.policies.for_org(attempt.org)
        if number is None:
            decision = _invalid(attempt, policy)
            with self.store.transaction():
                self.store.ledger_append([_decision_entry(attempt, decision)])
            return decision
        review = review_attempt(attempt, attempt.effective_relation, policy, self.store)
        ts = attempt.at.timestamp()
        asked = canonical(attempt)  # first: a lone surrogate is refused by name, before anything else encodes the text
        code = self._code(attempt, number, ts)
        with self.store.transaction(attempt.org, number):
            state = self.store.load_state(state_query(attempt, number, policy, ts))
            decision, contact = self._judge(attempt, number, policy, state, review, ts, self._kernel(policy, attempt), code)
            if contact is not None:
                self.store.record_contacts([contact])
            self.store.ledger_append([_decision_entry(attempt, decision, ts, asked)])
        return decision

    def decide_many(self, attempts: Sequence[Attempt]) -> list[Decision]:
        """Decide a batch, recorded in one transaction; attempts are judged in order, each seeing the
        last. On SQLite the states are read and judged before that transaction, from a snapshot it
        proves current (else they are read and judged again inside it: store/sqlite_snapshot.py).

        The cyclic garbage collector is paused meanwhile: a batch allocates ~10 containers per
        attempt that all stay alive until it ends, so collections during it only rescan them
        (~15 % of a batch of 10,000). Nothing here makes cycles; the next collection after
        the batch sees whatever another thread made.
        """
        with paused_gc():
            return self._decide_many(attempts)

    def _kernel(self, policy: Policy, attempt: Attempt) -> Kernel | None:
        return kernel_for(policy, attempt.purpose, attempt.channel) if self.kernels else None

    def _decide_many(self, attempts: Sequence[Attempt]) -> list[Decision]:
        decisions: list[Decision | None] = [None] * len(attempts)
        stamps = [attempt.at.timestamp() for attempt in attempts]  # once per attempt, not once per use
        pending: list[tuple[int, Attempt, str, Policy, Review, Kernel | None]] = []
        queries: list[StateQuery] = []
        for_org, kernels = self.policies.for_org, self.kernels
        for index, attempt in enumerate(attempts):
            policy = for_org(attempt.org)
            number = try_normalize(attempt.to)
            if number is None:
                decisions[index] = _invalid(attempt, policy)
                continue
            if attempt.content is None and attempt.template is None:
                review = NO_REVIEW
            else:
                review = review_attempt(attempt, attempt.effective_relation, policy, self.store)
            if kernels:
                kernel = kernel_for(policy, attempt.purpose, attempt.channel)
                lookback = kernel.lookback_days
                since = stamps[index] - (lookback + 1) * DAY if lookback else NEVER
                queries.append(StateQuery(attempt.org, number, attempt.purpose, attempt.subject, since, kernel.per_subject))
            else:
                kernel = None
                queries.append(state_query(attempt, number, policy, stamps[index]))
            pending.append((index, attempt, number, policy, review, kernel))
        # Whatever depends on the attempts alone is done before the write lock, which serialises
        # `serve --workers N` processes: only state-dependent work runs under it.
        asked = [canonical(attempt) for attempt in attempts]  # first: a lone surrogate is refused by name
        codes = [self._code(attempt, number, stamps[index]) for index, attempt, number, *_ in pending]
        # The states are read and the batch judged outside the lock too, from a snapshot the
        # store proves current once it holds the lock; if it is not, both are done again under
        # it (store/sqlite_snapshot.py). The decisions are the same either way.
        def judged(states: list[RecipientState]) -> tuple[list[NewContact], list[PendingEntry]]:
            recorded = self._judge_batch(pending, codes, states, stamps, decisions)
            return recorded, [_decision_entry(a, d, t, q) for a, d, t, q in zip(attempts, decisions, stamps, asked)]  # type: ignore[arg-type]

        snapshot = self.store.snapshot_states(queries) if pending else None
        if snapshot is not None:
            recorded, entries = judged(snapshot.states)
        with self.store.transaction():
            if snapshot is None or not self.store.snapshot_holds(snapshot):
                recorded, entries = judged(self.store.load_states(queries) if pending else [])
            self.store.record_contacts(recorded)
            self.store.ledger_append(entries)
        return decisions  # type: ignore[return-value]

    def _judge_batch(
        self, pending: list, codes: list[str | None], states: list[RecipientState], stamps: list[float],
        decisions: list[Decision | None],
    ) -> list[NewContact]:
        """Judge a batch's valid attempts in order, each seeing the contacts of those before it;
        fills `decisions` and returns the contacts to record."""
        recorded: list[NewContact] = []
        for (index, attempt, number, policy, review, kernel), code, state in zip(pending, codes, states):
            decision, contact = self._judge(attempt, number, policy, state, review, stamps[index], kernel, code)
            decisions[index] = decision
            if contact is not None:
                recorded.append(contact)
                state.contacts.append(contact[0])
                if attempt.subject is not None and state.account is not None:
                    state.subject_contacts.append(contact[0])
        return recorded

    def _code(self, attempt: Attempt, number: str, ts: float) -> str | None:
        """The verification code an allowed SMS carries. A function of the attempt alone, so it is
        made before the write lock, which serialises `serve --workers N`: a denied SMS makes a
        code it does not use, an allowed one (most of them) no longer makes it under the lock."""
        return issue_code(self._secret, attempt.org, number, ts, attempt.content) if attempt.channel == "sms" else None

    def _judge(
        self, attempt: Attempt, number: str, policy: Policy, state: RecipientState, review: Review,
        ts: float, kernel: Kernel | None, code: str | None,
    ) -> tuple[Decision, NewContact | None]:
        """Apply the purpose's rules to the loaded state; the contact to record if allowed.
        `ts`: the attempt's time, `code`: its verification code (`_code`), both made before the lock.

        With a kernel only the rules that can fire are called (rules/kernel.py); without, all
        of the purpose's rules: the same hits either way."""
        at = attempt.at
        relation = _effective_relation(attempt, number, state)
        if relation != attempt.effective_relation:
            review = review_attempt(attempt, relation, policy, self.store)
        if kernel is None:
            ctx = Context(attempt, number, policy, state, relation, policy.zones_for(number), CHANNEL_BITS[attempt.channel])
            checks = [rule.check for rule in rules.rules_for(attempt.purpose)]
            time_checks = [rule.check for rule in rules.rules_for(attempt.purpose) if rule.time_based]
        else:
            if is_blank(state):
                checks, time_checks = kernel.blank_checks, kernel.blank_time_checks
            else:
                checks, time_checks = kernel.checks, kernel.time_checks
            if not checks:  # nothing can fire (cn service; most blank numbers): no context to build
                return self._verdict(attempt, number, relation, review, [], ts, None, (), code)
            ctx = Context(attempt, number, policy, state, relation, kernel.zones or policy.zones_for(number), kernel.channel_bit)
        hits = [hit for check in checks if (hit := check(ctx, at)) is not None]
        return self._verdict(attempt, number, relation, review, hits, ts, ctx, time_checks, code)

    def _verdict(
        self, attempt: Attempt, number: str, relation: str, review: Review, hits: list[Hit], ts: float,
        ctx: Context | None, time_checks: Sequence, code: str | None,
    ) -> tuple[Decision, NewContact | None]:
        """The decision from the rules' hits and the review; the contact to record if allowed."""
        at = attempt.at
        if review is NO_REVIEW:  # no content, no template: the rules alone
            reasons: list[Reason] = [hit.reason for hit in hits] if hits else []
        else:
            reasons = [hit.reason for hit in hits] + review.reasons
        if not reasons:
            contact = ContactRecord(attempt.org, number, attempt.channel, attempt.purpose, relation, attempt.subject, ts)
            return Decision(attempt.id, "allow", number, [], None, review.findings, code), (contact, attempt.id, attempt.agent, code)
        if (review is NO_REVIEW or not review.reasons) and all(hit.retry_at is not None for hit in hits):
            retry_at = _earliest_pass(ctx, time_checks, at) if ctx is not None else None
            if retry_at is not None:
                return Decision(attempt.id, "defer", number, reasons, retry_at, review.findings, None), None
        return Decision(attempt.id, "deny", number, reasons, None, review.findings, None), None


# --- helpers -------------------------------------------------------------------------------


def _effective_relation(attempt: Attempt, number: str, state: RecipientState) -> str:
    """A collection attempt to anyone but the account's borrower is judged as a third party."""
    relation = attempt.effective_relation
    if attempt.purpose != "collection":
        return relation
    if relation == "prospect":
        return "contact"
    if relation == "borrower" and state.account is not None and state.account.borrower != number:
        return "contact"
    return relation


def _earliest_pass(ctx: Context, time_checks: Iterable, start: datetime) -> datetime | None:
    """The first moment at which every time-based rule passes (None: never)."""
    moment = start
    time_checks = list(time_checks)
    for _ in range(_MAX_RETRY_STEPS):
        hits: list[Hit] = [hit for check in time_checks if (hit := check(ctx, moment)) is not None]
        if not hits:
            return moment
        if any(hit.retry_at is None for hit in hits):
            return None
        moment = max(hit.retry_at for hit in hits)  # type: ignore[type-var]
    return None


def _decision_entry(attempt: Attempt, decision: Decision, ts: float | None = None, asked: bytes | None = None) -> PendingEntry:
    """The ledger entry of a decision: the attempt as asked and the answer as given.

    The structs go to the canonical encoder as they are (sorted keys apply to them too): the
    same bytes as encoding their `to_builtins` dicts, without building the dicts. `asked`: the
    attempt's canonical JSON, encoded earlier; the body is the canonical encoding of
    {"attempt", "decision"} either way (tests/ledger/test_chain_bytes.py).
    """
    body = b"".join((b'{"attempt":', canonical(attempt) if asked is None else asked, b',"decision":', canonical(decision), b"}"))
    # The number column indexes a number's history; an unusable number (INVALID_NUMBER: `to` as
    # written, NUL included, which PostgreSQL cannot store) has none. The body keeps it as sent.
    number = None if decision.reasons and decision.reasons[0].code == "INVALID_NUMBER" else decision.to
    return (attempt.org, "decision", attempt.at.timestamp() if ts is None else ts, number, decision.verdict, body)


def _invalid(attempt: Attempt, policy: Policy) -> Decision:
    reason = Reason("INVALID_NUMBER", f"{attempt.to[:40]!r} is not a valid phone number", policy.cite("invalid_number"))
    return Decision(attempt.id, "deny", attempt.to, [reason], None, [], None)


__all__ = ["Gateway", "InvalidNumber"]
