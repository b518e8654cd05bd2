"""The own detectors' regexes: a readable spelling (the definition) and a literal-first one (the search).

Why two spellings: Python's regex engine skips ahead to the next possible start only when every
top-level alternative begins with a literal character (it then knows the set of first
characters). ``(?:先|需|…).{0,10}(?:保证金|…)`` begins with a group, so the engine tried every
alternative at every position of the message (FEE_BEFORE_LOAN ≈ 3 µs, SUSPICIOUS_LINK and
LOAN_LURE ≈ 2 µs per search on a 26-character SMS). The fast spelling distributes a leading
group over what follows — ``(?:a|b)T`` becomes ``aT|bT`` and an optional ``X?Y`` becomes
``XY|Y`` — which tries the same paths in the same order (ordered choice distributes over
concatenation; a greedy ``?`` tries X first), so ``search`` finds the same match, span and
text. tests/protect/test_patterns.py compares the two spellings on every labelled message, the
corpus and random text, and checks that each fast spelling has a first-character set.
"""

from __future__ import annotations

import re


def alts(heads: str, tail: str = "") -> str:
    """``(?:h1|h2|…)tail`` spelt ``h1tail|h2tail|…`` (``heads``: plain alternatives, no groups)."""
    return "|".join(h + tail for h in heads.split("|"))


FEE = (
    "保证金|手续费|押金|解冻费|解冻金|工本费|验资|验证资金|会员费|服务费|激活费|认证费|刷流水|包装费|放款费|"
    "审核费|公证费|中介费|前期费用|流水|充值|个人所得税|税费|信用分"
)
LOAN = "贷款|借款|放款|下款|额度|到账|借钱|网贷|贷"
_FEE = f"(?:{FEE})"
_LOAN = f"(?:{LOAN})"

# FEE_BEFORE_LOAN
_ASK = "先|需|须|要|请|缴纳|交纳|支付|转入|存入|缴|交"
_FEE_THEN = rf".{{0,12}}(?:后|才能|即可|方可).{{0,6}}{_LOAN}"
_LOAN_BLOCKED = r".{0,12}(?:冻结|解冻|账户异常|银行卡号错误|流水不足)"
_PAYOUT = "领取|领奖|提现|放款|到账|解冻"
_PAY_FIRST = rf"(?:之?前).{{0,6}}(?:交|缴|付|支付|充值|转)(?:.{{0,10}}{_FEE})?"
# SUSPICIOUS_LINK
_SHORT = r"t\.cn|dwz\.cn|url\.cn|bit\.ly|suo\.im|tinyurl\.com|is\.gd|w\.url\.cn|u\.nu|0x0\.st"
_ADD = "加|添加|联系|➕"
_CHAT_APP = r"\s?(?:微信|薇信|威信|v信|vx|wx|薇|v|qq|扣扣|企鹅)"
_CHAT = "微信|vx|qq"
_CHAT_ID = r"(?:号)?[:：]?\s?[a-z0-9_-]{5,}"
_IP_LINK = r"https?://[\dx]{1,3}(?:\.[\dx]{1,3}){3}\S*"
_APP_LINK = r"下载.{0,6}(?:app|客户端).{0,8}(?:https?://|www\.)\S+"
# IMPERSONATION
_AUTHORITY = "人民法院|法院|公安局|派出所|检察院|网警|金融监管|银保监|证监会|征信中心|反诈中心"
_AUTHORITY_ACT = r".{0,12}(?:传票|通知您|涉嫌|立案|冻结|协助调查|配合调查|安全账户|逮捕|通缉)"
_IMPERSONATION_REST = (
    r"安全账户|资金清查|涉嫌洗钱|征信(?:受损|修复|异常).{0,10}(?:注销|处理|联系)"
    r"|注销.{0,6}(?:校园贷|学生贷|账户).{0,10}(?:影响|征信)"
)
# THIRD_PARTY_DISCLOSURE
_RELATIVE = "朋友|同事|亲属|亲戚|家人|紧急联系人|儿子|女儿|丈夫|妻子|老公|老婆"
_OWES = r".{0,10}(?:欠款|逾期|欠钱|借款未还|拖欠|不还)"
_TELL = "转告|告知|通知"
_TELL_PAY = r"\S{0,4}(?:他|她)\S{0,8}(?:还款|还钱|欠款)"
# LOAN_LURE
_LURE = "最高|可借|可贷|预授信|授信|提额|额度|借款|贷款|低息|日息|月息|利息低|免息|放款|下款|借钱|周转"
_LURE_CALL = r".{0,20}(?:申请|领取|点击|立即|马上|速|提现|来电|咨询|办理|可借|可贷|到账|激活|戳)"
_ACT = "申请|领取|点击|立即|马上|激活|办理"
# OPT_OUT_TEXT
_REPLY = "回复?|发送?"
_REPLY_WORD = r"\s?(?:td|t|n|r|退订|拒收|stop)\s?(?:退订|拒收|退)?"
# CODE_REQUEST
_HAND_OVER = "把|将|提供|告诉|报|发给|回复|转发"
_CODE = r".{0,8}(?:验证码|动态码|校验码)"
_CODE_WORD = "验证码|动态码"
_CODE_TO = r".{0,8}(?:发给|告诉|提供给|报给)(?:我|客服|工作人员)"

READABLE: dict[str, str] = {
    "FEE_BEFORE_LOAN": (
        rf"(?:{_ASK}).{{0,10}}{_FEE}|{_FEE}{_FEE_THEN}|{_LOAN}{_LOAN_BLOCKED}|(?:{_PAYOUT}){_PAY_FIRST}"
    ),
    "SUSPICIOUS_LINK": (
        rf"(?:https?://)?(?:{_SHORT})/\S+|{_IP_LINK}|(?:{_ADD}){_CHAT_APP}|(?:{_CHAT}){_CHAT_ID}|{_APP_LINK}"
    ),
    "IMPERSONATION": rf"(?:{_AUTHORITY}){_AUTHORITY_ACT}|{_IMPERSONATION_REST}",
    "THIRD_PARTY_DISCLOSURE": rf"(?:你的|您的)?(?:{_RELATIVE}){_OWES}|(?:{_TELL}){_TELL_PAY}",
    "LOAN_LURE": rf"(?:{_LURE}){_LURE_CALL}|(?:{_ACT}).{{0,12}}{_LOAN}",
    "OPT_OUT_TEXT": rf"(?:{_REPLY}){_REPLY_WORD}|退订回|拒收请回",
    "CODE_REQUEST": rf"(?:{_HAND_OVER}){_CODE}|(?:{_CODE_WORD}){_CODE_TO}",
}
"""The definitions (as they were written before the fast spelling existed)."""

FAST: dict[str, str] = {
    "FEE_BEFORE_LOAN": "|".join(
        (alts(_ASK, rf".{{0,10}}{_FEE}"), alts(FEE, _FEE_THEN), alts(LOAN, _LOAN_BLOCKED), alts(_PAYOUT, _PAY_FIRST))
    ),
    "SUSPICIOUS_LINK": "|".join(
        (rf"https?://(?:{_SHORT})/\S+", alts(_SHORT, r"/\S+"), _IP_LINK, alts(_ADD, _CHAT_APP),
         alts(_CHAT, _CHAT_ID), _APP_LINK)
    ),
    "IMPERSONATION": f"{alts(_AUTHORITY, _AUTHORITY_ACT)}|{_IMPERSONATION_REST}",
    "THIRD_PARTY_DISCLOSURE": "|".join(
        (f"你的(?:{_RELATIVE}){_OWES}", f"您的(?:{_RELATIVE}){_OWES}", alts(_RELATIVE, _OWES), alts(_TELL, _TELL_PAY))
    ),
    "LOAN_LURE": f"{alts(_LURE, _LURE_CALL)}|{alts(_ACT, rf'.{{0,12}}{_LOAN}')}",
    "OPT_OUT_TEXT": f"{alts(_REPLY, _REPLY_WORD)}|退订回|拒收请回",
    "CODE_REQUEST": f"{alts(_HAND_OVER, _CODE)}|{alts(_CODE_WORD, _CODE_TO)}",
}
"""The same patterns spelt literal-first (see the module docstring)."""

PHONE_LIKE = r"[\dx]{7,}"
PHONE_LIKE_FAST = r"[\dx][\dx]{6,}"
"""A run of 7+ digits (real or masked): the fast spelling starts with a character class, which
the engine also uses to skip ahead."""


def compiled(spelling: dict[str, str]) -> dict[str, re.Pattern[str]]:
    """``spelling`` compiled."""
    return {name: re.compile(p) for name, p in spelling.items()}
