"""``review_spans`` (the classifier's fast path) reports exactly ``review``'s findings for the codes asked.

Checked against the pinned golden output (evaluation sets under five scopes, evasions, 3,000
seeded random texts with links, amounts and odd Unicode) for several code subsets, and the
table of which codes each structural check can emit is checked against what the checks return.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

from reachguard.content.review import MISSING_CODES, review_spans
from reachguard.content.structural import EMITS, Context, checks_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden  # noqa: E402

LINES = golden.GOLDEN.read_text(encoding="utf-8").rstrip("\n").split("\n")
RECORDS = [json.loads(line) for line in LINES[1:]]
CONTENT = frozenset(
    {"FEE_BEFORE_LOAN", "SUSPICIOUS_LINK", "IMPERSONATION", "FALSE_LEGAL_CLAIM", "THREAT", "INSULT",
     "THIRD_PARTY_DISCLOSURE", "MISLEADING_LURE"}
)
SUBSETS = [CONTENT, frozenset(MISSING_CODES), frozenset({"SUSPICIOUS_LINK"}), frozenset({"THREAT", "MISSING_APR"}),
           frozenset(json.loads(LINES[0])["explanations"]), frozenset()]


@pytest.mark.parametrize("codes", SUBSETS, ids=lambda c: ",".join(sorted(c))[:40] or "none")
def test_spans_equal_the_pinned_findings_of_those_codes(codes: frozenset[str]) -> None:
    compared = 0
    for r in RECORDS:
        org = golden.ORG if r["org"] else None
        for scope, expected in r["reviews"].items():
            want = [(s, e, c) for c, s, e, _ev in expected if c in codes]
            got = review_spans(r["text"], *scope.split("/"), codes, org)
            assert got == want, (r["text"], scope)
            compared += len(want)
    if codes:
        assert compared > 100  # the comparison is not vacuous


def test_evidence_is_the_text_at_the_span() -> None:
    for r in RECORDS[:500]:
        for scope, expected in r["reviews"].items():
            for c, s, e, ev in expected:
                if c not in MISSING_CODES:
                    assert r["text"][s:e] == ev


def test_every_check_declares_what_it_emits() -> None:
    scopes = list(itertools.product(["marketing", "collection", "service"], ["borrower", "contact", "prospect",
                                                                            "guarantor"], ["sms", "push", "call"]))
    checks = {c for scope in scopes for c in checks_for(scope)}
    assert checks <= set(EMITS)
    for r in RECORDS:
        ctx = Context(r["text"])
        for check in checks:
            assert {code for _s, _e, code in check(ctx)} <= EMITS[check], (check.__name__, r["text"])
    # asking for MISSING codes only skips the link check; asking for none runs nothing
    assert checks_for(("marketing", "borrower", "sms"), frozenset()) == ()
    assert all(EMITS[c] & MISSING_CODES for c in checks_for(("marketing", "borrower", "sms"), frozenset(MISSING_CODES)))
