"""Blocking policy, SMS length, and org lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reachguard.content import OrgLexicon, blocking, review
from reachguard.content.sms import _GSM7_BASIC, _GSM7_EXTENSION, _gsm7_septets, sms_length
from reachguard.model import Finding
from reachguard.policy import load_profile


def _f(code: str) -> Finding:
    return Finding(code=code, span=(0, 1), evidence="", message="", citation="")


@pytest.mark.parametrize(
    ("code", "purpose", "channel", "blocks"),
    [
        ("THREAT", "collection", "call", True),  # prohibited content blocks everywhere
        ("THREAT", "service", "sms", True),
        ("THIRD_PARTY_DISCLOSURE", "collection", "call", True),
        ("MISSING_APR", "marketing", "sms", True),  # MISSING_* block marketing/collection SMS and push
        ("MISSING_OPT_OUT", "marketing", "push", True),
        ("MISSING_DEBT_DETAILS", "collection", "sms", True),
        ("MISSING_APR", "marketing", "call", False),  # ... and only warn for call scripts
        ("MISSING_DEBT_DETAILS", "collection", "robocall", False),
        ("MISSING_SENDER_SIGNATURE", "service", "sms", False),  # service SMS: a warning
        ("MISSING_SENDER_SIGNATURE", "collection", "sms", True),
    ],
)
def test_blocking_follows_cn_policy(code: str, purpose: str, channel: str, blocks: bool) -> None:
    policy = load_profile("cn")
    assert (blocking(policy, [_f(code)], purpose, channel) != []) is blocks


def test_blocking_end_to_end() -> None:
    policy = load_profile("cn")
    text = "【安心借】您的借款已逾期，不还就上门。"
    result = review(text, "collection", "borrower", "call")
    assert {f.code for f in result.findings} == {"THREAT", "MISSING_DEBT_DETAILS"}
    assert [f.code for f in blocking(policy, result.findings, "collection", "call")] == ["THREAT"]


@pytest.mark.parametrize(
    ("text", "chars", "segments"),
    [
        ("", 0, 0),
        ("a" * 160, 160, 1),  # GSM-7: 160 single
        ("a" * 161, 161, 2),  # 153 per part
        ("a" * 306, 306, 2),
        ("a" * 307, 307, 3),
        ("[" * 80, 80, 1),  # extension characters take two septets
        ("[" * 81, 81, 2),
        ("贷" * 70, 70, 1),  # UCS-2: 70 single
        ("贷" * 71, 71, 2),  # 67 per part
        ("贷" * 134, 134, 2),
        ("贷" * 135, 135, 3),
        ("a" * 69 + "😀", 70, 2),  # an emoji is two UTF-16 units
    ],
)
def test_sms_length(text: str, chars: int, segments: int) -> None:
    assert sms_length(text) == (chars, segments)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ0 @£[]{}€^~|\\\f\nä贷😀\u00a0")), max_size=30))
def test_gsm7_septets_match_the_per_character_definition(text: str) -> None:
    expected: int | None = 0
    for ch in text:
        if ch in _GSM7_BASIC:
            expected += 1  # type: ignore[operator]
        elif ch in _GSM7_EXTENSION:
            expected += 2  # type: ignore[operator]
        else:
            expected = None
            break
    assert _gsm7_septets(text) == expected


def test_review_reports_length() -> None:
    result = review("【安心借】" + "您" * 70, "service", "borrower")
    assert (result.chars, result.segments) == (75, 2)


def test_org_phrases_and_allow_list() -> None:
    text = "【安心借】您尾号6621的借款应还1,280.00元，已逾期3天，请通过App还款，否则我们派人过去。"
    assert review(text, "collection", "borrower").findings == []
    org = OrgLexicon.of(phrases={"THREAT": ["派人过去"]})
    found = review(text, "collection", "borrower", org_lexicon=org).findings
    assert [(f.code, f.evidence) for f in found] == [("THREAT", "派人过去")]
    # An org phrase is normalised like the shipped ones: evasions of it are caught too.
    evaded = text.replace("派人过去", "派 人 過 去")
    assert [f.evidence for f in review(evaded, "collection", "borrower", org_lexicon=org).findings] == ["派 人 過 去"]

    lawyer = "【安心借】您尾号6621的借款应还1,280.00元，已逾期3天，请通过App还款。本司法务部提醒您。"
    assert {f.code for f in review(lawyer, "collection", "borrower").findings} == {"IMPERSONATION"}
    allow = OrgLexicon.of(allow={"IMPERSONATION": ["本司法务部"]})
    assert review(lawyer, "collection", "borrower", org_lexicon=allow).findings == []


def test_org_domains() -> None:
    text = "【安心借】额度已更新，年化利率7.2%起，详见 https://m.anxinjie.com/a 回T退订"
    assert {f.code for f in review(text, "marketing", "prospect").findings} == {"SUSPICIOUS_LINK"}
    org = OrgLexicon.of(allowed_domains=["anxinjie.com"])
    assert review(text, "marketing", "prospect", org_lexicon=org).findings == []
    # A shortener stays suspicious whatever the org says.
    short = text.replace("https://m.anxinjie.com/a", "t.cn/abc")
    assert {f.code for f in review(short, "marketing", "prospect", org_lexicon=org).findings} == {"SUSPICIOUS_LINK"}


def test_org_lexicon_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text("phrases:\n  INSULT: [猪头]\nallow:\n  THREAT: [上门核实地址]\nallowed_domains: [anxinjie.com]\n", encoding="utf-8")
    org = OrgLexicon.from_yaml(path)
    assert org.allowed_domains == ("anxinjie.com",)
    text = "【安心借】您尾号6621的借款应还1,280.00元，已逾期3天，请通过App还款，猪头。"
    assert [f.code for f in review(text, "collection", "borrower", org_lexicon=org).findings] == ["INSULT"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("phrase: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="phrase: unknown key"):
        OrgLexicon.from_yaml(bad)
    with pytest.raises(ValueError, match="unknown finding code"):
        review("x", "service", "borrower", org_lexicon=OrgLexicon.of(phrases={"NOT_A_CODE": ["x"]}))


@pytest.mark.parametrize("text,message", [
    ("phrases: [1, 2]\n", "phrases: Input should be a valid dictionary"),
    ("phrases: {THREAT: [1]}\n", "phrases.THREAT.0: Input should be a valid string"),
    ("phrases: {THREAT: null}\n", "phrases.THREAT: Input should be a valid list"),
    ("allowed_domains: anxinjie.com\n", "allowed_domains: Input should be a valid list"),
    ("[phrases]\n", "(top)"),
    ("{{{{\n", "not valid YAML"),
])
def test_org_lexicon_of_the_wrong_shape_is_a_value_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        OrgLexicon.from_yaml(path)
    assert message in str(caught.value)


def test_org_automaton_is_cached() -> None:
    from reachguard.content.lexicon import matcher_for

    org = OrgLexicon.of(phrases={"THREAT": ["派人过去"]})
    assert matcher_for(org) is matcher_for(org)
    assert matcher_for(OrgLexicon.of(phrases={"THREAT": ["派人过去"]})) is matcher_for(org)  # equal lexicons share
    assert matcher_for(None) is matcher_for(None)
