"""CharStage.run_mapped (C-level map/compress) equals the per-character reference loop it replaced.

Three paths: every character maps to one (a copy of the offsets), only deletions (a selection),
and expansions such as ㎏ → kg or ½ → 1⁄2 (each output character repeats its source's range).
Checked on the fold and separator stages, on continued (non-identity) maps, and on random text.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reachguard.content.stages import CharStage, Mapped

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden  # noqa: E402

_review = importlib.import_module("reachguard.content.review")
FOLD, SQUASH = _review._pipelines()
SEPARATORS = SQUASH.stages[0]
ALPHABET = list("贷款 *-.·_，/~\u3000\u200b\ufe0f\u0301AbZ徵後①⾦㎏½ﬁ㈱ǅẞİΣ😀👍🏽\U0002a6a5\U000e0041ｶ…—\t\n1٣")


def _reference(stage: CharStage, mapped: Mapped) -> Mapped:
    """The loop run_mapped used to be."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for ch, s, e in zip(mapped.text, mapped.starts, mapped.ends):
        rep = stage.table[ord(ch)]
        if rep:
            out.append(rep)
            starts.extend([s] * len(rep))
            ends.extend([e] * len(rep))
    return Mapped("".join(out), starts, ends)


def _check(text: str) -> None:
    assert isinstance(SEPARATORS, CharStage)
    for stage in (FOLD, SEPARATORS):
        start = Mapped.identity(text)
        assert stage.run_mapped(start) == _reference(stage, start), (stage.name, text)
    folded = FOLD.run_mapped(Mapped.identity(text))  # a continued map: ranges wider than one
    assert SEPARATORS.run_mapped(folded) == _reference(SEPARATORS, folded), text


def test_each_path_is_taken_and_exact() -> None:
    for text in ("", "贷款", "ABC贷款", "贷 * 款", "㎏½ﬁ", "㎏ 贷\u200b款 ½", "Σ徵信😀", "\U0002a6a5 \U000e0041"):
        _check(text)
    assert any(len(FOLD.table[ord(c)]) > 1 for c in "㎏½ﬁ")  # the expansion path is exercised
    assert any(SEPARATORS.table[ord(c)] == "" for c in " *\u200b")  # and the deletion path


def test_golden_texts() -> None:
    for text in golden.random_texts(1500):
        _check(text)
    for base in ("", golden.COLLECTION_OK, golden.MARKETING_OK):
        for evasion in golden.EVASIONS + golden.ODD:
            _check(base + evasion)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(ALPHABET), max_size=30))
def test_random_text(text: str) -> None:
    _check(text)
