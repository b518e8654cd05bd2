"""Every finding code: a positive, a negative, evasions, Traditional text, allow-list cases.

Clean bases are realistic lender messages; each test changes one thing and checks that exactly
the expected code appears (or disappears), with the span on the original characters.
"""

from __future__ import annotations

import pytest

from reachguard.content import review
from reachguard.model import Finding

SIG = "【安心借】"
COLLECTION_OK = SIG + "您尾号6621的借款本期应还1,280.00元，已逾期3天，请通过安心借App还款。"
MARKETING_OK = SIG + "您的借款额度已更新，年化利率（单利）7.2%起，详情请登录安心借App查看。回T退订"


def codes(text: str, purpose: str = "collection", relation: str = "borrower", channel: str = "sms") -> set[str]:
    return {f.code for f in review(text, purpose, relation, channel).findings}


def only(text: str, code: str, purpose: str = "collection", relation: str = "borrower", channel: str = "sms") -> Finding:
    found = [f for f in review(text, purpose, relation, channel).findings if f.code == code]
    assert len(found) == 1, found
    f = found[0]
    if not code.startswith("MISSING_"):
        assert text[f.span[0] : f.span[1]] == f.evidence  # the span indexes the ORIGINAL text
    assert f.message and f.citation
    return f


def test_clean_bases_are_clean() -> None:
    assert codes(COLLECTION_OK) == set()
    assert codes(MARKETING_OK, "marketing", "prospect") == set()


# --- THREAT ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addition", "evidence"),
    [
        ("不还就上门找你。", "上门"),
        ("否则后果自负。", "后果自负"),
        ("否则后 果 自 负。", "后 果 自 负"),  # spaces inserted
        ("否則後果自負。", "後果自負"),  # Traditional
        ("否则通知你的家人。", "通知你的家人"),
        ("否则尚门找你。", "尚门"),  # homophone variant
    ],
)
def test_threat(addition: str, evidence: str) -> None:
    assert only(COLLECTION_OK + addition, "THREAT").evidence == evidence
    assert codes(COLLECTION_OK + addition) == {"THREAT"}


def test_threat_allow_list_truthful_credit_statement() -> None:
    assert codes(COLLECTION_OK + "逾期可能影响您的个人征信记录。") == set()
    assert codes(COLLECTION_OK + "逾期可能影響您的個人徵信記錄。") == set()  # Traditional too
    assert "THREAT" in codes(COLLECTION_OK + "不还就影响你征信。")


def test_threat_allow_list_only_suppresses_the_hit_it_covers() -> None:
    text = COLLECTION_OK + "逾期可能影响您的个人征信记录，否则后果自负。"
    assert only(text, "THREAT").evidence == "后果自负"


# --- INSULT ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addition", "evidence"),
    [
        ("你这个老赖。", "老赖"),
        ("你這個老賴。", "老賴"),  # Traditional
        ("老癞就是你。", "老癞"),  # variant
        ("臭 不 要 脸。", "臭 不 要 脸"),
        ("sb一个。", "sb"),  # pinyin initials
    ],
)
def test_insult(addition: str, evidence: str) -> None:
    assert only(COLLECTION_OK + addition, "INSULT").evidence == evidence


def test_insult_allow_list() -> None:
    assert codes(SIG + "谨防骗子冒充客服，我司不会收取任何费用。", "service") == set()


# --- FALSE_LEGAL_CLAIM ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addition", "evidence"),
    [
        ("否则已立案处理。", "已立案"),  # the longest phrase wins
        ("否则将被拘留。", "拘留"),
        ("否则冻结所有银行卡。", "冻结所有银行卡"),
        ("否則追究刑事責任。", "追究刑事責任"),  # Traditional; overlapping phrases merge
        ("不还就等着坐 牢。", "坐 牢"),
    ],
)
def test_false_legal_claim(addition: str, evidence: str) -> None:
    assert only(COLLECTION_OK + addition, "FALSE_LEGAL_CLAIM").evidence == evidence


def test_lawful_lawsuit_mention_is_not_a_false_claim() -> None:
    assert codes(COLLECTION_OK + "我司将依法向人民法院申请强制执行。") == set()


# --- IMPERSONATION --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("【人民法院】" + COLLECTION_OK[len(SIG):], "人民法院"),
        (COLLECTION_OK + "我是派出所民警。", "派出所民警"),
        (COLLECTION_OK + "法 院通知。", "法 院通知"),
        (COLLECTION_OK + "檢察院通知。", "檢察院"),
        (COLLECTION_OK + "法完通知你。", "法完"),
    ],
)
def test_impersonation(text: str, evidence: str) -> None:
    found = [f for f in review(text, "collection", "borrower").findings if f.code == "IMPERSONATION"]
    assert found and evidence in "".join(f.evidence for f in found)
    for f in found:
        assert text[f.span[0] : f.span[1]] == f.evidence


def test_impersonation_allow_list() -> None:
    assert codes(COLLECTION_OK + "如有争议可向法院提起诉讼。") == set()
    assert codes(COLLECTION_OK + "如有爭議可向法院提起訴訟。") == set()


# --- THIRD_PARTY_DISCLOSURE -----------------------------------------------------------------


def test_third_party_disclosure_words_and_amounts() -> None:
    text = SIG + "请转告张伟，他的欠款5,000元已逾期。"
    found = [f for f in review(text, "collection", "contact").findings if f.code == "THIRD_PARTY_DISCLOSURE"]
    assert {f.evidence for f in found} == {"欠款5,000元", "逾期"}
    for f in found:
        assert text[f.span[0] : f.span[1]] == f.evidence


def test_third_party_disclosure_evasion_and_traditional() -> None:
    assert "THIRD_PARTY_DISCLOSURE" in codes(SIG + "请通知刘洋处理他的欠 款问题。", "collection", "contact")
    assert "THIRD_PARTY_DISCLOSURE" in codes(SIG + "請轉告陳先生盡快還款。", "collection", "contact")


def test_third_party_disclosure_only_to_contacts() -> None:
    neutral = SIG + "您好，请转告张伟先生尽快回电4008123456，谢谢。"
    assert codes(neutral, "collection", "contact") == set()
    assert "THIRD_PARTY_DISCLOSURE" not in codes(COLLECTION_OK, "collection", "borrower")


# --- MISLEADING_LURE ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lure", "evidence"),
    [
        ("无视征信，", "无视征信"),
        ("無視徵信，", "無視徵信"),  # Traditional
        ("黑 户 可 代 款，", "黑 户 可 代 款"),  # separators + homophone
        ("不看zx，", "不看zx"),  # pinyin initials
        ("秒批秒批，", "秒批秒批"),  # repeated: one finding over both
        ("百分百下款，", "百分百下款"),
    ],
)
def test_misleading_lure(lure: str, evidence: str) -> None:
    text = SIG + lure + MARKETING_OK[len(SIG):]
    assert only(text, "MISLEADING_LURE", "marketing", "prospect").evidence == evidence


def test_lure_applies_to_marketing_only() -> None:
    assert "MISLEADING_LURE" not in codes(COLLECTION_OK + "秒批。", "collection", "borrower")


def test_conditional_zero_interest_is_allowed() -> None:
    text = SIG + "新用户首期零利息，之后年化利率（单利）7.3%起。回T退订"
    assert codes(text, "marketing", "prospect") == set()
    assert "MISLEADING_LURE" in codes(SIG + "借款零利息，年化利率0%。回T退订", "marketing", "prospect")


# --- FEE_BEFORE_LOAN ------------------------------------------------------------------------


def test_fee_before_loan() -> None:
    assert only(SIG + "放款前需缴纳保证金2000元。", "FEE_BEFORE_LOAN", "service").evidence == "放款前需缴纳保证金"
    assert "FEE_BEFORE_LOAN" in codes(SIG + "放款前需繳納保證金。", "service")
    assert "FEE_BEFORE_LOAN" in codes(SIG + "需缴纳验 资 费1000元。", "service")
    assert codes(SIG + "我司不会以任何名义收取保证金。", "service") == set()


# --- SUSPICIOUS_LINK ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addition", "evidence"),
    [
        ("点击 t.cn/A6x8k2 查看", "t.cn/A6x8k2"),
        ("详见 http://hk-pay.top/r", "http://hk-pay.top/r"),
        ("详见 http://45.76.12.9/a", "http://45.76.12.9/a"),
        ("加微信 dk888", "加微信"),
        ("加薇信 dk888", "加薇信"),
        ("加ＱＱ 123", "加ＱＱ"),
    ],
)
def test_suspicious_link(addition: str, evidence: str) -> None:
    assert only(COLLECTION_OK + addition, "SUSPICIOUS_LINK").evidence == evidence


def test_known_domains_are_fine() -> None:
    assert codes(COLLECTION_OK + "或访问 https://www.mybank.cn 还款") == set()
    assert codes(SIG + "请访问 www.icbc.com.cn", "service") == set()
    assert codes(SIG + "关注官方微信公众号查看账单", "service") == set()


# --- structural: MISSING_* ------------------------------------------------------------------


def test_missing_sender_signature() -> None:
    assert codes(COLLECTION_OK[len(SIG):]) == {"MISSING_SENDER_SIGNATURE"}
    assert codes(COLLECTION_OK[len(SIG):] + SIG) == set()  # at the end is fine
    assert codes("[安心借]" + COLLECTION_OK[len(SIG):]) == {"MISSING_SENDER_SIGNATURE"}
    # Only for SMS: a call script has no signature.
    assert "MISSING_SENDER_SIGNATURE" not in codes(COLLECTION_OK[len(SIG):], channel="call")
    f = only(COLLECTION_OK[len(SIG):], "MISSING_SENDER_SIGNATURE")
    assert f.span == (0, len(COLLECTION_OK) - len(SIG)) and f.evidence == ""


def test_missing_opt_out() -> None:
    text = MARKETING_OK.replace("回T退订", "")
    assert codes(text, "marketing", "prospect") == {"MISSING_OPT_OUT"}
    for opt_out in ("回TD退订", "拒收请回复R", "退订回Ｔ", "回T退訂"):
        assert codes(text + opt_out, "marketing", "prospect") == set(), opt_out
    assert "MISSING_OPT_OUT" not in codes(text, "service")


def test_missing_apr() -> None:
    text = MARKETING_OK.replace("年化利率（单利）7.2%起，", "日息低至万二，")
    assert codes(text, "marketing", "prospect") == {"MISSING_APR"}
    assert codes(SIG + "双十一到店即送好礼。回T退订", "marketing", "prospect") == set()  # not a loan ad
    assert codes(MARKETING_OK.replace("年化利率", "年化利率（APR）"), "marketing", "prospect") == set()
    traditional = SIG + "您的借款額度已更新，年化利率（單利）7.2%起，詳情請登錄App查看。回T退訂"
    assert codes(traditional, "marketing", "prospect") == set()
    assert codes(traditional.replace("年化利率（單利）7.2%起，", ""), "marketing", "prospect") == {"MISSING_APR"}
    # Call scripts are checked too (the policy makes it a warning there, see test_blocking).
    assert "MISSING_APR" in codes(text.replace(SIG, ""), "marketing", "prospect", channel="call")


def test_missing_debt_details_needs_all_three() -> None:
    assert codes(COLLECTION_OK) == set()
    no_amount = SIG + "您尾号6621的借款已逾期3天，请通过安心借App还款。"
    no_days = SIG + "您尾号6621的借款本期应还1,280.00元，请通过安心借App还款。"
    no_channel = SIG + "您尾号6621的借款本期应还1,280.00元，已逾期3天，请尽快还款。"
    for text in (no_amount, no_days, no_channel):
        assert codes(text) == {"MISSING_DEBT_DETAILS"}, text
    due_date = SIG + "您的借款应还1,280.00元，将于11月25日到期，请通过App还款。"
    assert codes(due_date) == set()
    # Only to the borrower, only for collection.
    assert "MISSING_DEBT_DETAILS" not in codes(no_amount, "collection", "guarantor")
    assert "MISSING_DEBT_DETAILS" not in codes(no_amount, "service", "borrower")


def test_findings_are_sorted_and_lengths_reported() -> None:
    text = "你这个老赖，不还就上门。"
    result = review(text, "collection", "borrower", "sms")
    assert [f.span[0] for f in result.findings] == sorted(f.span[0] for f in result.findings)
    assert {f.code for f in result.findings} == {"INSULT", "THREAT", "MISSING_SENDER_SIGNATURE", "MISSING_DEBT_DETAILS"}
    assert (result.chars, result.segments) == (len(text), 1)


# --- robustness -----------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("【】安心借贷款代徵信征黑户嘿 *-.zxZXＡ１，。！😀\u200b上门門1234abc後果自負法院逾期元天App回T退订http://t.cn/")),
        max_size=80,
    ),
    st.sampled_from(["marketing", "collection", "service"]),
    st.sampled_from(["borrower", "contact", "guarantor", "prospect"]),
    st.sampled_from(["sms", "push", "call", "robocall"]),
)
def test_any_text_gives_findings_whose_spans_quote_the_original(text: str, purpose: str, relation: str, channel: str) -> None:
    result = review(text, purpose, relation, channel)
    assert result.chars == len(text)
    for f in result.findings:
        start, end = f.span
        assert 0 <= start <= end <= len(text)
        if not f.code.startswith("MISSING_"):
            assert start < end and text[start:end] == f.evidence


def test_empty_and_long_texts() -> None:
    empty = review("", "marketing", "prospect")
    assert (empty.chars, empty.segments) == (0, 0)
    assert {f.code for f in empty.findings} == {"MISSING_SENDER_SIGNATURE", "MISSING_OPT_OUT"}
    long = COLLECTION_OK * 150  # ~8,000 characters
    result = review(long + "后果自负", "collection", "borrower")
    assert [f.code for f in result.findings] == ["THREAT"]
    assert result.findings[0].span == (len(long), len(long) + 4)
