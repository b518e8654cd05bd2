"""The full review output is pinned: optimisations must not change a single finding.

``review_golden.jsonl`` (written by ``golden.py``) holds the evaluation sets under several
scopes, the evasion cases and 3,000 seeded random texts full of evasions, links, amounts and odd
Unicode, each with its exact findings, length, segments and normalised form.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reachguard.content import review
from reachguard.content.normalise import normalise
from reachguard.model import Finding

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden  # noqa: E402

LINES = golden.GOLDEN.read_text(encoding="utf-8").rstrip("\n").split("\n")
EXPLANATIONS: dict[str, list[str]] = json.loads(LINES[0])["explanations"]
RECORDS = [json.loads(line) for line in LINES[1:]]


def test_golden_covers_the_eval_sets_evasions_and_every_code() -> None:
    assert len(RECORDS) >= 3400
    seen = {f[0] for r in RECORDS for findings in r["reviews"].values() for f in findings}
    assert seen == set(EXPLANATIONS)


def _chunks(n: int) -> list[range]:
    size = -(-len(RECORDS) // n)
    return [range(i, min(i + size, len(RECORDS))) for i in range(0, len(RECORDS), size)]


@pytest.mark.parametrize("chunk", _chunks(8), ids=lambda r: f"{r.start}-{r.stop}")
def test_review_output_is_unchanged(chunk: range) -> None:
    for i in chunk:
        r = RECORDS[i]
        text = r["text"]
        assert normalise(text) == r["normalised"], text
        for scope, expected in r["reviews"].items():
            purpose, relation, channel = scope.split("/")
            result = review(text, purpose, relation, channel, golden.ORG if r["org"] else None)
            want = [
                Finding(code=c, span=(s, e), evidence=ev, message=EXPLANATIONS[c][0], citation=EXPLANATIONS[c][1])
                for c, s, e, ev in expected
            ]
            assert result.findings == want, (text, scope)
            assert (result.chars, result.segments) == (r["chars"], r["segments"]), text
