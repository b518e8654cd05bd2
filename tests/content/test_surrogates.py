"""A lone surrogate in a Python str is reviewed as U+FFFD, never a crash.

Why: the API, replay and CLI refuse such input at decode, but a library caller's str (e.g. a file
read with ``surrogateescape``) may hold one; ``review`` encoded the text as UTF-16 for the SMS
length and raised ``UnicodeEncodeError``. Spans and evidence still index the text as given.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from reachguard.content import review
from reachguard.content.review import review_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden  # noqa: E402

LINES = golden.GOLDEN.read_text(encoding="utf-8").rstrip("\n").split("\n")
RECORDS = [json.loads(line) for line in LINES[1:]]
ALL_CODES = frozenset(json.loads(LINES[0])["explanations"])


def _fffd(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _as_tuples(text: str, scope: list[str], org: object) -> tuple[list[tuple[str, int, int]], int, int]:
    r = review(text, *scope, org)  # type: ignore[arg-type]
    return [(f.code, *f.span) for f in r.findings], r.chars, r.segments


@pytest.mark.parametrize("text", ["\ud800", "a\udcffb", "放款前先交保证金\udc00 加微信dk888", "\udfff" * 200])
def test_review_does_not_raise_and_counts_a_surrogate_as_one_ucs2_character(text: str) -> None:
    result = review(text, "marketing", "prospect")
    replaced = review(_fffd(text), "marketing", "prospect")
    assert (result.chars, result.segments) == (replaced.chars, replaced.segments)
    assert result.chars == len(text)
    assert [(f.code, f.span) for f in result.findings] == [(f.code, f.span) for f in replaced.findings]
    for f in result.findings:
        if not f.code.startswith("MISSING_"):
            assert f.evidence == text[f.span[0] : f.span[1]]  # evidence from the caller's text


def test_surrogate_inside_evidence_is_kept_as_given() -> None:
    text = "【安心借】放款前先交保\udc80证金"
    [f] = [f for f in review(text, "marketing", "prospect").findings if f.code == "FEE_BEFORE_LOAN"]
    assert f.evidence == text[f.span[0] : f.span[1]] and "\udc80" in f.evidence
    assert review_spans(text, "marketing", "prospect", "sms", frozenset({f.code})) == [(*f.span, f.code)]


def test_golden_texts_with_surrogates_equal_the_same_texts_with_replacement_characters() -> None:
    rng = random.Random(7)
    compared = 0
    for r in RECORDS[::7]:
        text = r["text"]
        chars = list(text)
        for _ in range(rng.randint(1, 3)):
            chars.insert(rng.randint(0, len(chars)), chr(rng.randint(0xD800, 0xDFFF)))
        odd = "".join(chars)
        fffd = _fffd(odd)
        org = golden.ORG if r["org"] else None
        for scope in r["reviews"]:
            parts = scope.split("/")
            got = _as_tuples(odd, parts, org)
            assert got == _as_tuples(fffd, parts, org), (odd, scope)
            assert review_spans(odd, *parts, ALL_CODES, org) == [(s, e, c) for c, s, e in got[0]]
            compared += len(got[0])
    assert compared > 100
