"""Named, weighted signals for the inbound SMS classifier, combined the way rspamd combines symbols.

Why: the statistical model is trained on a corpus of retail spam vs. news/social fragments; it
knows "commercial" but has seen almost no fraud and no debt collection. Those labels need
explicit, explainable evidence. Each signal is a symbol with a fixed score that is *added to one
label's log-odds* (negative scores allowed, as in rspamd); the classifier sums the model's logits
and the scores of every signal that fired, then takes a softmax. Every fired signal is listed in
the answer with its weight and the text that triggered it, so a user sees why.

Sources of signals:
1. The content review (``reachguard.content.review``), when that module is importable: its
   findings map onto signals by code (``CONTENT_CODE_SIGNALS``). Compliance-only findings
   (MISSING_APR, MISSING_OPT_OUT, MISSING_SENDER_SIGNATURE, MISSING_DEBT_DETAILS) describe what a
   sender forgot, not what a message *is*, and are ignored here.
2. Minimal fallback detectors for the same codes, so the classifier works (and is tested)
   without the content module. A code fires once, from whichever source found it first
   (the content review wins: its evidence is usually more precise).
3. A few classification-specific signals that the content review has no reason to produce
   (overdue-debt wording, loan-lure wording, opt-out text, a 【签名】, a verification code).

This module holds the specs and the own detectors; calling the content review and combining
both sources is :mod:`reachguard.protect.combine`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reachguard.protect.patterns import FAST, PHONE_LIKE_FAST, READABLE, compiled

LABELS: tuple[str, ...] = ("normal", "marketing", "collection", "fraud")


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """A symbol: which label it pushes, by how much (log-odds), and what it means."""

    name: str
    label: str
    weight: float
    description: str


@dataclass(frozen=True, slots=True, init=False)
class Signal:
    """A signal that fired on one message."""

    name: str
    label: str
    weight: float
    evidence: str
    source: str  # "content" (content review), "classifier" (own detector) or "model"

    def __init__(self, name: str, label: str, weight: float, evidence: str, source: str) -> None:
        # What dataclass's frozen __init__ does (object.__setattr__ per field), through the slot
        # descriptors directly: ~2.5 signals are built per message, and this is ~2x cheaper.
        _SET_NAME(self, name)
        _SET_LABEL(self, label)
        _SET_WEIGHT(self, weight)
        _SET_EVIDENCE(self, evidence)
        _SET_SOURCE(self, source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "weight": self.weight,
            "evidence": self.evidence,
            "source": self.source,
        }


_SET_NAME, _SET_LABEL, _SET_WEIGHT, _SET_EVIDENCE, _SET_SOURCE = (
    Signal.__dict__[f].__set__ for f in ("name", "label", "weight", "evidence", "source")
)

# Weights are log-odds added to the label's logit. They were set by hand and checked on the
# *train* part of tests/data/loan_sms_labelled.jsonl only (never on its holdout part).
SPECS: dict[str, SignalSpec] = {
    s.name: s
    for s in (
        # codes shared with the content review (its findings, or our fallback detectors)
        SignalSpec("FEE_BEFORE_LOAN", "fraud", 5.0, "asks for a deposit or fee before a loan is released"),
        SignalSpec("SUSPICIOUS_LINK", "fraud", 2.0, "short link, bare IP / unknown download link, or 加微信/QQ to get money"),
        SignalSpec("IMPERSONATION", "fraud", 5.5, "poses as a court, police, regulator or credit bureau"),
        SignalSpec("FALSE_LEGAL_CLAIM", "collection", 1.5, "threatens arrest, a lawsuit already filed, frozen cards"),
        SignalSpec("THREAT", "collection", 2.0, "threats or intimidation"),
        SignalSpec("INSULT", "collection", 2.0, "insulting or abusive words"),
        SignalSpec("THIRD_PARTY_DISCLOSURE", "collection", 2.5, "tells a contact about someone's debt"),
        SignalSpec("MISLEADING_LURE", "fraud", 1.5, "无视征信, 黑户可贷, 百分百下款 …"),
        # classification-specific
        SignalSpec("DEBT_OVERDUE", "collection", 3.5, "overdue-debt wording: 逾期, 欠款, 拖欠, 催收 …"),
        SignalSpec("LOAN_LURE", "marketing", 2.0, "loan offer wording: 额度, 借款, 下款, 低息 with an invitation"),
        SignalSpec("OPT_OUT_TEXT", "marketing", 1.5, "an opt-out instruction (回T退订, 拒收请回R)"),
        SignalSpec("SENDER_SIGNATURE", "fraud", -1.0, "a 【签名】 at the start or end: registered senders sign"),
        SignalSpec("VERIFICATION_CODE", "normal", 2.5, "a one-time code: 验证码 123456, 取件码 …"),
        SignalSpec("CODE_REQUEST", "fraud", 3.0, "asks the recipient to send or tell a verification code"),
        SignalSpec("SERVICE_NOTICE", "normal", 1.5, "transaction/service wording: 尾号, 余额, 取件码, 已签收, 扣款成功 …"),
        SignalSpec("NO_OFFER", "marketing", -1.5, "no commercial marker at all (price, discount, 领取, 退订, 咨询, link …)"),
    )
}

CONTENT_CODE_SIGNALS: frozenset[str] = frozenset(
    {
        "FEE_BEFORE_LOAN",
        "SUSPICIOUS_LINK",
        "IMPERSONATION",
        "FALSE_LEGAL_CLAIM",
        "THREAT",
        "INSULT",
        "THIRD_PARTY_DISCLOSURE",
        "MISLEADING_LURE",
    }
)

# --- detectors ---------------------------------------------------------------------------
# Run on the NFKC + lower-cased text (digits kept), so full-width forms match their ASCII.
# The longer patterns are spelt in reachguard.protect.patterns (READABLE); the searches use their
# literal-first spelling (FAST), which finds the same match faster.

_PATTERNS: dict[str, re.Pattern[str]] = {
    "FEE_BEFORE_LOAN": re.compile(READABLE["FEE_BEFORE_LOAN"]),
    "SUSPICIOUS_LINK": re.compile(READABLE["SUSPICIOUS_LINK"]),
    "IMPERSONATION": re.compile(READABLE["IMPERSONATION"]),
    "FALSE_LEGAL_CLAIM": re.compile(
        r"拘留|抓捕|逮捕|坐牢|判刑|刑事责任|上征信黑名单|冻结(?:你|您)?(?:名下)?所有|"
        r"已(?:经)?(?:立案|起诉)|法院传票|强制执行|列入失信"
    ),
    "THREAT": re.compile(
        r"上门|找到你|走着瞧|后果自负|让你(?:好看|身败名裂)|通知你(?:的)?(?:单位|家人|亲戚|朋友|同事)|"
        r"爆(?:你)?通讯录|曝光你|家人(?:的)?安全|你(?:的)?家人.{0,6}(?:小心|知道)"
    ),
    "INSULT": re.compile(r"老赖|无赖|不要脸|畜生|去死|王八蛋|狗东西|厚颜无耻|人渣|装死"),
    "THIRD_PARTY_DISCLOSURE": re.compile(READABLE["THIRD_PARTY_DISCLOSURE"]),
    "MISLEADING_LURE": re.compile(
        r"无视征信|黑户(?:也)?(?:可|能)?(?:贷|借|下款)|白户可(?:贷|借)|百分百下款|100%下款|"
        r"无需审核|不看征信|不查征信|秒(?:批|到账|下款)|无抵押无担保|零门槛|低门槛|"
        r"有身份证就(?:能|可)(?:借|贷)|凭身份证"
    ),
    "DEBT_OVERDUE": re.compile(
        r"逾期|欠款|拖欠|欠(?:我们|平台)?(?:的)?钱|催收|违约金|未(?:按时)?还|尚未(?:还款|归还|结清)|"
        r"已超过还款日|账户(?:已)?(?:严重)?(?:违约|逾期)|赖账|还清欠|立即还款|尽快(?:还款|处理|结清)"
    ),
    "LOAN_LURE": re.compile(READABLE["LOAN_LURE"]),
    "OPT_OUT_TEXT": re.compile(READABLE["OPT_OUT_TEXT"]),
    "SENDER_SIGNATURE": re.compile(r"^\s*【[^【】]{2,16}】|【[^【】]{2,16}】\s*$"),
    "VERIFICATION_CODE": re.compile(
        r"(?:验证码|校验码|动态码|动态密码|确认码|取件码|提货码)(?:为|是)?[:：]?\s?[0-9a-z]{4,8}"
    ),
    "CODE_REQUEST": re.compile(READABLE["CODE_REQUEST"]),
    "SERVICE_NOTICE": re.compile(
        r"尾号\s?[\dx]{4}|余额|取件码|已签收|妥投|派送|已送达|已出库|订单号?\s?[0-9a-z]{6,}|扣款成功|自动扣款|"
        r"还款成功|已(?:按时)?还款|已结清|全部结清|停水|停电|检修|值机|检票|已确认|准考证|已办结|已受理"
    ),
}

# Commercial markers: a message with none of them is unlikely to be marketing (NO_OFFER fires
# when this does NOT match). The corpus's normal class is news and chat fragments, so without
# this the model alone calls any SMS-shaped personal message "marketing". A phone number
# (7+ digits) is a marker whether its digits are real or masked to x (the corpus masked every
# digit of its spam lines: reading only real digits made NO_OFFER fire on 4 % more spam).
_OFFER = re.compile(
    r"优惠|折|元|¥|￥|\$|活动|详询|咨询|电话|热线|联系|退订|回复|领取|申请|额度|贷|借|免费|促销|特价|会员|"
    r"报名|开业|店|专柜|惊喜|礼|送|抢|限时|限量|低至|全场|新款|上市|预约|欢迎|光临|致电|http|www|\.com|"
    r"微信|qq|vip|[\dx]{7,}|价|购|售|租|招聘|培训|课|办理|代办|服务|公司|厂|销|品牌|团购|秒杀|红包|积分|"
    r"机会|名额|热卖|火爆|福利|加盟|投资|理财|楼盘|户型|房|车|利率|利息|息|分期|放款|到账"
)
# The same test, split in two for speed: with every alternative starting with a literal, the
# regex engine skips positions whose character starts none of them (the one non-literal
# alternative, a run of 7+ digits, made it try all ~100 alternatives at every position: 3.8 µs →
# 0.8 µs). "Either matches" is exactly "_OFFER matches"; the gates test checks it on the corpus.
_OFFER_WORDS = re.compile(_OFFER.pattern.replace(r"|[\dx]{7,}", ""))
_PHONE_LIKE = re.compile(PHONE_LIKE_FAST)  # r"[\dx]{7,}", spelt so the engine can skip ahead

# Speed: a regex search that cannot match still scans the whole text (2-5 µs for the patterns
# with leading alternations or gaps). Each gate below is a set of characters of which every
# possible match contains at least one; a text sharing none of them skips the search.
# tests/protect/test_classifier.py checks gated == ungated on every labelled message.
_FEE_CHARS = "保手押解工验会服激认刷包放审公中前流充个税信" + "冻账银"
_GATES: dict[str, frozenset[str]] = {
    "FEE_BEFORE_LOAN": frozenset(_FEE_CHARS),
    "SUSPICIOUS_LINK": frozenset("/h微薇威vwq扣企下"),
    "THIRD_PARTY_DISCLOSURE": frozenset("欠逾借拖不还"),
    "LOAN_LURE": frozenset("最可预授提额借贷低日月利免放下周申领点立马激办"),
    "CODE_REQUEST": frozenset("验动校"),
    "IMPERSONATION": frozenset("法公派检网金银证征反安资涉注"),
    "FALSE_LEGAL_CLAIM": frozenset("拘抓逮坐判刑上冻已法强列"),
    "THREAT": frozenset("上找走后让通爆曝家"),
    "INSULT": frozenset("老无不畜去王狗厚人装"),
    "MISLEADING_LURE": frozenset("无黑白百1不秒零低有凭"),
    "DEBT_OVERDUE": frozenset("逾欠拖催违未尚已账赖还立尽"),
    "OPT_OUT_TEXT": frozenset("回发退拒"),
    "SENDER_SIGNATURE": frozenset("【"),
    "VERIFICATION_CODE": frozenset("验校动确取提"),
    "SERVICE_NOTICE": frozenset("尾余取已妥派订扣自还全停检值准"),
}
_SEARCH = {**_PATTERNS, **compiled(FAST)}  # same keys and order as _PATTERNS
_DETECTORS: tuple[tuple[str, re.Pattern[str], frozenset[str] | None], ...] = tuple(
    (name, _SEARCH[name], _GATES.get(name)) for name in _PATTERNS
)
# Single characters that are commercial markers on their own: checked as a set before the regex.
_OFFER_CHARS = frozenset("折元¥￥$店礼送抢价购售租课厂销房车贷借息")


# One pass instead of 16 gate tests: each gate character maps to a bit mask of the detectors
# whose gate holds it (bit 0 = "a single-character commercial marker"), one regex finds the
# message's gate characters (``findall`` of a character class: no 1-character string is built
# for the others, as ``frozenset.intersection(text)`` did for every CJK character), and the OR of
# their masks picks, through a memo, the tuple of detectors worth searching (in _DETECTORS order,
# so signals keep their order).
_OFFER_BIT = 1
_CHAR_MASK: dict[str, int] = {ch: _OFFER_BIT for ch in _OFFER_CHARS}
for _i, (_name, _pattern, _gate) in enumerate(_DETECTORS):
    for _ch in _gate or ():
        _CHAR_MASK[_ch] = _CHAR_MASK.get(_ch, 0) | 2 << _i
_GATE_CHARS = frozenset(_CHAR_MASK)
_GATE_FINDALL = re.compile("[" + "".join(map(re.escape, sorted(_GATE_CHARS))) + "]").findall
_PLANS: dict[int, tuple[tuple[str, re.Pattern[str], SignalSpec], ...]] = {}


def _plan(mask: int) -> tuple[tuple[str, re.Pattern[str], SignalSpec], ...]:
    """The detectors whose gate shares a character with the message (bits of ``mask``)."""
    plan = _PLANS.get(mask)
    if plan is None:
        plan = _PLANS[mask] = tuple(
            (name, pattern, SPECS[name])
            for i, (name, pattern, gate) in enumerate(_DETECTORS)
            if gate is None or mask & 2 << i
        )
    return plan


_NO_OFFER = Signal("NO_OFFER", SPECS["NO_OFFER"].label, SPECS["NO_OFFER"].weight, "", "classifier")
"""Always the same value (no evidence): one shared instance, which is safe since it is frozen."""


def own_signals(folded: str, gated: bool = True) -> list[Signal]:
    """The classifier's own detectors on NFKC-folded, lower-cased text (digits kept).

    ``gated=False`` runs every search (used by the test that proves the gates exact)."""
    if not gated:
        return _own_signals_ungated(folded)
    mask = 0
    for ch in _GATE_FINDALL(folded):
        mask |= _CHAR_MASK[ch]
    out: list[Signal] = []
    for name, pattern, spec in _PLANS.get(mask) or _plan(mask):
        m = pattern.search(folded)
        if m is not None:
            out.append(Signal(name, spec.label, spec.weight, m.group(0).strip(), "classifier"))
    if not mask & _OFFER_BIT and _OFFER_WORDS.search(folded) is None and _PHONE_LIKE.search(folded) is None:
        out.append(_NO_OFFER)
    return out


def _own_signals_ungated(folded: str) -> list[Signal]:
    """The reference the gated path is tested against: no gates, and the readable spellings
    of the patterns (_PATTERNS), not the literal-first ones the gated path searches."""
    out: list[Signal] = []
    for name, pattern in _PATTERNS.items():
        m = pattern.search(folded)
        if m is not None:
            spec = SPECS[name]
            out.append(Signal(name, spec.label, spec.weight, m.group(0).strip(), "classifier"))
    if _OFFER.search(folded) is None:
        spec = SPECS["NO_OFFER"]
        out.append(Signal("NO_OFFER", spec.label, spec.weight, "", "classifier"))
    return out
