"""The cheap pre-checks of the structural checks say yes whenever the full patterns they guard
would (they were rewritten for speed; this pins them to the original formulations)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from reachguard.content import structural

ORIGINAL_LINKISH = re.compile(r"[a-z0-9]\.[a-z]")
ORIGINAL_IPISH = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
ORIGINAL_OPT_OUT = re.compile(
    r"不希望(?:再)?(?:收到|接到)|(?<![a-z])(?:stop|td)(?![a-z])|回复?\s*[\"“']?\s*(?:t|n|r|0)(?![a-z])"
)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("a.z0192٣.x/:贷 ")), max_size=16))
def test_linkish_is_the_union_of_the_two_original_patterns(text: str) -> None:
    expected = bool(ORIGINAL_LINKISH.search(text) or ORIGINAL_IPISH.search(text))
    assert bool(structural._LINKISH.search(text)) == expected


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(["回", "复", " ", "\"", "t", "n", "r", "0", "a", "stop", "td", "不希望", "再", "收到", "接到", "x"]), max_size=10).map("".join))
def test_opt_out_patterns_with_hints_equal_the_original_alternation(text: str) -> None:
    expected = bool(ORIGINAL_OPT_OUT.search(text))
    got = any(hint in text and pattern.search(text) for hint, pattern in structural._OPT_OUT)
    assert got == expected


@given(st.lists(st.sampled_from(["【", "】", "签名", " ", "\n", "x", "︻"]), max_size=8).map("".join))
def test_signature_pre_checks_do_not_change_the_answer(text: str) -> None:
    expected = bool(structural._SIGNATURE_START.search(text) or structural._SIGNATURE_END.search(text))
    got = structural.check_signature(structural.Context(text, text)) == []
    assert got == expected
