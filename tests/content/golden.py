"""The pinned review output: inputs, and the exact result of ``review`` for each.

Why: speeding up normalisation and the structural checks must not change a single finding.
``review_golden.jsonl`` holds, for the evaluation sets (every message under several scopes),
the evasion cases and a few thousand seeded random texts built from lexicon phrases, evasions,
links, amounts and odd Unicode, the full output of :func:`reachguard.content.review` (codes,
spans on the original text, evidence, chars, segments; each code's message and citation once,
in the first line) and the matcher's normalised form. ``test_golden.py`` re-runs every line and compares.

Regenerate ONLY for an intended behaviour change, and say so in the commit:

    .venv/bin/python tests/content/golden.py
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opencc
import yaml

from reachguard.content import OrgLexicon, review
from reachguard.content.lexicon import LEXICON_DIR, codes, shipped_packs
from reachguard.content.normalise import normalise

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "review_golden.jsonl"
DATA = HERE.parent / "data"
SCOPES = [
    ("marketing", "prospect", "sms"),
    ("collection", "borrower", "sms"),
    ("collection", "contact", "sms"),
    ("collection", "borrower", "call"),
    ("service", "borrower", "push"),
]
ORG = OrgLexicon.of(
    phrases={"THREAT": ["派人过去"], "INSULT": ["废物东西"]},
    allow={"IMPERSONATION": ["本司法务部"]},
    allowed_domains=["anxinjie.com"],
)

SIG = "【安心借】"
COLLECTION_OK = SIG + "您尾号6621的借款本期应还1,280.00元，已逾期3天，请通过安心借App还款。"
MARKETING_OK = SIG + "您的借款额度已更新，年化利率（单利）7.2%起，详情请登录安心借App查看。回T退订"
EVASIONS = [
    "ＡＢＣ１２３", "徵信", "後果自負", "贷 款", "贷*款", "贷-款", "贷.款", "贷\u200b款", "贷😀款", "代款", "嘿户",
    "zx", "ZX", "贷贷贷款", "秒ｐｉ", "zxcv", "无视zx", "1000元", "上。门", "【某某】徵信ＡＢ，还款",
    "您好，黑 户 可 代 款！", "前缀ＺＸ后缀", "一二😀上\u200b门三", "逾期後果自負",
    "不还就上门找你。", "否则后果自负。", "否则后 果 自 负。", "否則後果自負。", "否则通知你的家人。", "否则尚门找你。",
    "逾期可能影响您的个人征信记录。", "逾期可能影響您的個人徵信記錄。", "不还就影响你征信。",
    "你这个老赖。", "你這個老賴。", "老癞就是你。", "臭 不 要 脸。", "sb一个。", "SB一个。", "傻b",
    "http://t.cn/abc", "www.anxinjie.com/x", "ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ", "1.2.3.4:8080/a", "xn--abc.com",
    "点击 bit.ly/3xYz 领取", "无视黑户，秒 下 款", "无抵押，包过！", "0利息0手续费", "放款前先交保证金",
]
ODD = ["𝐀", "①", "⾦", "㎏", "½", "ﬁ", "㈱", "\ufe0f", "\u0301", "\u00a0", "\u3000", "\t", "\n", "Ⅻ", "ß", "İ",
       "Σ", "\U0002a6a5", "😀", "👍🏽", "\U000e0041", "️", "ｶ", "ㄱ", "\u200d", "\u2028", "·", "…", "——"]
FILLERS = ["请", "您", "的", "借款", "额度", "还款", "App", "，", "。", "元", "逾期", "年化利率", "7.2%", "回T退订",
           "1,280.00元", "3天", "12月5日", "2026-01-05", "¥500", "官方", "本司法务部", "派人过去", "【测试金融】",
           "拒收请回复R", "apr", "STOP", "今天18:00前", "人民币2000", "安心借App", "公众号"]
SEPARATORS = [" ", "*", "-", ".", "·", "\u200b", "😀", "_", "，", "/", "~", "\u3000"]
LINKS = ["http://t.cn/AbC", "https://www.anxinjie.com/pay", "www.example.top/x", "192.168.1.1", "dwz.cn/x",
         "ＨＴＴＰ：／／ｔ．ｃｎ／ａ", "www.xn--fiqs8s.com", "pay.alipay.com", "abc.xyz"]


def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def _variants() -> dict[str, str]:
    raw = yaml.safe_load((LEXICON_DIR / "_normalise.yaml").read_text(encoding="utf-8"))
    back: dict[str, str] = {}
    for variant, canonical in {**raw.get("variants", {}), **raw.get("pinyin_initials", {})}.items():
        back.setdefault(str(canonical), str(variant))
    return back


def _evade(rng: random.Random, phrase: str, s2t: opencc.OpenCC, variants: dict[str, str]) -> str:
    """One phrase as an evader might write it (zero or more evasions)."""
    for _ in range(rng.randint(0, 3)):
        kind = rng.randrange(6)
        if kind == 0 and len(phrase) > 1:
            sep = rng.choice(SEPARATORS)
            phrase = sep.join(phrase)
        elif kind == 1:
            phrase = s2t.convert(phrase)
        elif kind == 2:
            phrase = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in phrase)
        elif kind == 3 and phrase:
            i = rng.randrange(len(phrase))
            phrase = phrase[: i + 1] + phrase[i] * rng.randint(1, 3) + phrase[i + 1 :]
        elif kind == 4:
            for canonical, variant in variants.items():
                if canonical in phrase:
                    phrase = phrase.replace(canonical, variant, 1)
                    break
        else:
            phrase = phrase.upper()
    return phrase


def random_texts(n: int, seed: int = 20261123) -> list[str]:
    rng = random.Random(seed)
    s2t = _s2t()
    variants = _variants()
    phrases = sorted({p for pack in shipped_packs() for p in pack.phrases + pack.allow})
    out = []
    for _ in range(n):
        parts: list[str] = []
        if rng.random() < 0.7:
            parts.append(SIG if rng.random() < 0.8 else "【X】")
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.3:
                parts.append(_evade(rng, rng.choice(phrases), s2t, variants))
            elif r < 0.6:
                parts.append(rng.choice(FILLERS))
            elif r < 0.7:
                parts.append(rng.choice(ODD))
            elif r < 0.78:
                parts.append(rng.choice(LINKS))
            elif r < 0.86:
                parts.append(rng.choice(SEPARATORS))
            else:
                parts.append(_evade(rng, rng.choice(FILLERS), s2t, variants))
        if rng.random() < 0.2:
            parts.append(SIG)
        out.append("".join(parts))
    return out


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


Scope = tuple[str, str, str]


def cases() -> Iterator[tuple[str, list[Scope], bool]]:
    """(text, scopes, with_org) for every pinned text: each is reviewed under each scope."""
    for name in ("review_eval.jsonl", "review_holdout.jsonl"):
        for item in _jsonl(DATA / name):
            own = (item["purpose"], item["relation"], item["channel"])
            yield item["text"], [own] + [s for s in SCOPES if s != own], False
    for base in ("", COLLECTION_OK, MARKETING_OK):
        for evasion in EVASIONS:
            yield base + evasion, SCOPES, False
    rng = random.Random(5)
    for i, text in enumerate(random_texts(3000)):
        yield text, [rng.choice(SCOPES)], i % 7 == 0


def record(text: str, scopes: list[Scope], with_org: bool) -> dict[str, Any]:
    """Everything review says about ``text`` under each scope (findings as [code, start, end, evidence])."""
    org = ORG if with_org else None
    reviews = {}
    for scope in scopes:
        result = review(text, *scope, org)
        reviews["/".join(scope)] = [[f.code, *f.span, f.evidence] for f in result.findings]
    return {"text": text, "org": with_org, "normalised": normalise(text), "chars": result.chars,
            "segments": result.segments, "reviews": reviews}


def explanations() -> dict[str, list[str]]:
    """Each code's message and citation, pinned once in the first line (not per finding)."""
    return {code: [info.message, info.citation] for code, info in sorted(codes().items())}


def main() -> int:
    with GOLDEN.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"explanations": explanations()}, ensure_ascii=False) + "\n")
        for case in cases():
            fh.write(json.dumps(record(*case), ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
