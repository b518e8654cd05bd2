"""Structural checks: what a message must contain (signature, opt-out, APR, debt details) and
what its links look like. Small functions, not phrase lists, because they test for presence or
shape rather than for forbidden words.

Each check takes a :class:`Context` and returns ``(start, end, code)`` triples on the ORIGINAL
text. A "missing" finding spans the whole message (nothing to point at but the message itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address

from reachguard.content.lexicon import link_data
from reachguard.content.normalise import Mapped, fold_pipeline

Span = tuple[int, int, str]


class Context:
    """One message under review: original text, its folded form (NFKC, t2s, lower), the org's
    link domains. Which checks run for a scope is decided by :func:`checks_for`, not here."""

    __slots__ = ("text", "folded", "known_domains", "_mapped")

    def __init__(self, text: str, folded: str | None = None, known_domains: frozenset[str] = frozenset()) -> None:
        self.text = text
        self.folded: str = fold_pipeline().run(text) if folded is None else folded
        self.known_domains = known_domains
        self._mapped: Mapped | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Folded offsets → original offsets (folding rarely changes length; map only then)."""
        if len(self.folded) == len(self.text):
            return start, end
        if self._mapped is None:
            self._mapped = fold_pipeline().run_mapped(self.text)
        return self._mapped.original_span(start, end)

    def whole(self, code: str) -> Span:
        return (0, len(self.text), code)


# --- sender signature --------------------------------------------------------------------------

_SIGNATURE_START = re.compile(r"^\s*【[^【】\n]{2,20}】")
_SIGNATURE_END = re.compile(r"【[^【】\n]{2,20}】\s*$")


def check_signature(ctx: Context) -> list[Span]:
    """An SMS from a business port carries its 【签名】 at the very start or the very end."""
    f = ctx.folded
    # The regexes can only match when the text starts (ends) with 【 (】) or with whitespace.
    head, tail = f[:1], f[-1:]
    if (head == "【" or head.isspace()) and _SIGNATURE_START.match(f):
        return []
    if (tail == "】" or tail.isspace()) and _SIGNATURE_END.search(f):
        return []
    return [ctx.whole("MISSING_SENDER_SIGNATURE")]


# --- opt-out -----------------------------------------------------------------------------------

_OPT_OUT_WORDS = ("退订", "拒收", "取消订阅", "关闭推送", "关闭通知", "不再打扰", "unsubscribe")
# Each pattern with a literal it cannot match without: the C-level ``in`` test skips most regexes.
_OPT_OUT = (
    ("回", re.compile(r"回复?\s*[\"“']?\s*(?:t|n|r|0)(?![a-z])")),
    ("不希望", re.compile(r"不希望(?:再)?(?:收到|接到)")),
    ("stop", re.compile(r"(?<![a-z])stop(?![a-z])")),
    ("td", re.compile(r"(?<![a-z])td(?![a-z])")),
)


def check_opt_out(ctx: Context) -> list[Span]:
    """Marketing must tell the recipient how to refuse more of it (回T退订, 拒收请回复R …)."""
    f = ctx.folded
    for word in _OPT_OUT_WORDS:  # a plain loop: cheaper than any() over a generator
        if word in f:
            return []
    for hint, pattern in _OPT_OUT:
        if hint in f and pattern.search(f):
            return []
    return [ctx.whole("MISSING_OPT_OUT")]


# --- APR ---------------------------------------------------------------------------------------

_LOAN_AD = re.compile(r"贷|借|额度|放款|下款|利率|利息|分期|周转|取现|授信|提现|现金")
_SIGNATURES = re.compile(r"【[^【】\n]{0,20}】")
_APR = re.compile(r"年化|(?<![a-z])apr(?![a-z])")


def check_apr(ctx: Context) -> list[Span]:
    """Loan marketing must state the annualised rate (年化利率), PBoC notice 〔2021〕 No. 3."""
    f = ctx.folded
    if "年化" in f or ("apr" in f and _APR.search(f)):
        return []
    body = _SIGNATURES.sub("", f) if "【" in f else f  # a brand like 【安心借】 alone is not a loan ad
    if not _LOAN_AD.search(body):
        return []
    return [ctx.whole("MISSING_APR")]


# --- debt details ------------------------------------------------------------------------------

_AMOUNT = re.compile(
    r"(?:(?:金额|欠款|应还|待还|本金|账单|[¥$]|人民币|rmb|cny)[为是:：]?\s*)?\d[\d,]*(?:\.\d+)?\s*(?:万元|元|块)"
    r"|(?:金额|欠款|应还|待还|本金|账单|[¥$]|人民币|rmb|cny)[为是:：]?\s*\d[\d,]*(?:\.\d+)?"
)
_WHEN = re.compile(
    r"\d+\s*天|\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}"
    r"|(?:今天|今日|明天|明日|本月\d{1,2}日)\s*(?:\d{1,2}[:：点]\d{0,2})?\s*(?:前|到期)"
)
_CHANNEL = re.compile(
    r"app|官方|小程序|公众号|客户端|官网|对公账户|还款账户|扣款账户|自动扣款|银行卡|网银|手机银行|柜台|还款入口"
)


def check_debt_details(ctx: Context) -> list[Span]:
    """A reminder to the borrower names the amount, the overdue days or due date, and an
    official repayment channel, so the borrower can check it and pay without a middleman."""
    f = ctx.folded
    if _AMOUNT.search(f) and _WHEN.search(f) and _CHANNEL.search(f):
        return []
    return [ctx.whole("MISSING_DEBT_DETAILS")]


# --- third-party disclosure (amounts; debt words come from the lexicon pack) --------------------


def check_third_party_amount(ctx: Context) -> list[Span]:
    """To a contact, any amount of money is a disclosure of the debt."""
    return [(*ctx.span(m.start(), m.end()), "THIRD_PARTY_DISCLOSURE") for m in _AMOUNT.finditer(ctx.folded)]


# --- links -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LinkRules:
    pattern: re.Pattern[str]
    shorteners: frozenset[str]
    risky_tlds: frozenset[str]
    known: frozenset[str]


_RULES: _LinkRules | None = None


def _rules() -> _LinkRules:
    global _RULES
    if _RULES is None:
        data = link_data()
        tlds = "|".join(sorted(data["tlds"], key=len, reverse=True))
        pattern = re.compile(
            r"(?:https?://|www\.)[^\s，。！？；、（）()【】<>\"“”]+"
            r"|(?<![a-z0-9@.\-])(?:\d{1,3}(?:\.\d{1,3}){3}|(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+"
            rf"(?:{tlds}))(?![a-z0-9\-])(?::\d+)?(?:/[^\s，。！？；、（）()【】<>\"“”]*)?"
        )
        _RULES = _LinkRules(pattern, data["shorteners"], data["risky_tlds"], data["known_domains"])
    return _RULES


def _host(link: str) -> str:
    host = re.sub(r"^(?:https?://)", "", link).split("/", 1)[0].split("?", 1)[0]
    return host.split("@")[-1].split(":", 1)[0].strip(".")


def _under(host: str, domains: frozenset[str]) -> bool:
    parts = host.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts)))


def link_is_suspicious(host: str, extra_known: frozenset[str] = frozenset()) -> bool:
    """Shortener, IP literal, punycode, risky TLD, or simply not a known domain."""
    rules = _rules()
    try:
        ip_address(host)
        return True
    except ValueError:
        pass
    if _under(host, rules.shorteners) or "xn--" in host:
        return True
    if _under(host, extra_known) or _under(host, rules.known):
        return False
    return True


# Something link-like: a dot between [a-z0-9] and a letter, or an IPv4-looking run of digits.
# Written from the dot so the regex engine jumps from dot to dot.
_LINKISH = re.compile(r"\.(?:(?<=[a-z0-9]\.)[a-z]|(?<=\d\.)\d{1,3}\.\d{1,3}\.\d)")


def check_links(ctx: Context) -> list[Span]:
    """Every link whose host is not a known, plain domain."""
    f = ctx.folded
    if "://" not in f and ("." not in f or not _LINKISH.search(f)):
        return []  # cheap pre-checks: most messages have no link at all
    out: list[Span] = []
    for m in _rules().pattern.finditer(ctx.folded):
        if link_is_suspicious(_host(m.group()), ctx.known_domains):
            out.append((*ctx.span(m.start(), m.end()), "SUSPICIOUS_LINK"))
    return out


# --- which checks run where --------------------------------------------------------------------

Check = Callable[[Context], list[Span]]


_CHECKS: dict[tuple[str, str, str], tuple[Check, ...]] = {}
_CHECKS_FOR_CODES: dict[tuple[tuple[str, str, str], frozenset[str]], tuple[Check, ...]] = {}

EMITS: dict[Check, frozenset[str]] = {
    check_links: frozenset({"SUSPICIOUS_LINK"}),
    check_signature: frozenset({"MISSING_SENDER_SIGNATURE"}),
    check_apr: frozenset({"MISSING_APR"}),
    check_opt_out: frozenset({"MISSING_OPT_OUT"}),
    check_debt_details: frozenset({"MISSING_DEBT_DETAILS"}),
    check_third_party_amount: frozenset({"THIRD_PARTY_DISCLOSURE"}),
}
"""The codes each check can return, so a caller that wants only some codes (the SMS classifier
wants the prohibited-content ones, never MISSING_*) runs only the checks that can produce them.
A test checks that no check ever returns a code outside its entry."""


def checks_for(scope: tuple[str, str, str], codes: frozenset[str] | None = None) -> tuple[Check, ...]:
    """The structural checks that apply to this (purpose, relation, channel), memoised;
    with ``codes``, only those that can return one of them (see :data:`EMITS`)."""
    if codes is not None:
        key = (scope, codes)
        found = _CHECKS_FOR_CODES.get(key)
        if found is None:
            if len(_CHECKS_FOR_CODES) >= 1024:
                _CHECKS_FOR_CODES.clear()
            found = _CHECKS_FOR_CODES[key] = tuple(c for c in checks_for(scope) if not EMITS[c].isdisjoint(codes))
        return found
    checks = _CHECKS.get(scope)
    if checks is None:
        if len(_CHECKS) >= 1024:  # scopes come from callers: keep the memo bounded
            _CHECKS.clear()
        checks = _CHECKS[scope] = tuple(_checks_for(*scope))
    return checks


def _checks_for(purpose: str, relation: str, channel: str) -> list[Check]:
    checks: list[Check] = [check_links]
    if channel == "sms":
        checks.append(check_signature)
    if purpose == "marketing":
        checks += [check_apr, check_opt_out]
    if purpose == "collection" and relation == "borrower":
        checks.append(check_debt_details)
    if relation == "contact":
        checks.append(check_third_party_amount)
    return checks
