"""Content and template review of an attempt: a function of the attempt and, for an attempt
naming a template, the org's stored templates (not of the recipient's state), so the gateway
runs it before taking any lock (engine.py), and again only when the state turns the attempt's
relation into another (a collection attempt to a third party). The template tables are why a
batch's snapshot counts template writes (store/sqlite_snapshot.py)."""

from __future__ import annotations

from reachguard import content
from reachguard.model import Attempt, Finding, Reason
from reachguard.policy.schema import Policy
from reachguard.store import Store
from reachguard.templates import TemplateRegistry


class Review:
    __slots__ = ("findings", "blocking_reason", "template_reason")

    def __init__(self, findings: list[Finding], blocking_reason: Reason | None, template_reason: Reason | None = None):
        self.findings = findings
        self.blocking_reason = blocking_reason
        self.template_reason = template_reason

    @property
    def reasons(self) -> list[Reason]:
        return [r for r in (self.template_reason, self.blocking_reason) if r is not None]


NO_REVIEW = Review([], None)


def template_reason(store: Store, attempt: Attempt, policy: Policy) -> Reason | None:
    """An attempt naming a template must use an approved one, rendered faithfully."""
    if attempt.template is None:
        return None
    problem = TemplateRegistry(store, policy.templates.levels).check_use(attempt.org, attempt.template, attempt.content)
    return Reason("TEMPLATE_NOT_APPROVED", problem, policy.cite("template")) if problem else None


def review_attempt(attempt: Attempt, relation: str, policy: Policy, store: Store) -> Review:
    """Content review of the attempt's text (and its template), before any lock is taken."""
    template_problem = template_reason(store, attempt, policy)
    if template_problem is not None:
        found = review_text(attempt, relation, policy)
        return Review(found.findings, found.blocking_reason, template_problem)
    return review_text(attempt, relation, policy)


def review_text(attempt: Attempt, relation: str, policy: Policy) -> Review:
    if attempt.content is None:
        return NO_REVIEW
    result = content.review(attempt.content, attempt.purpose, relation, attempt.channel)
    blocking = content.blocking(policy, result.findings, attempt.purpose, attempt.channel)
    if not blocking:
        return Review(result.findings, None)
    codes = ", ".join(sorted({f.code for f in blocking}))
    reason = Reason("CONTENT_VIOLATION", f"the content breaks the rules: {codes}", policy.cite("content"))
    return Review(result.findings, reason)
