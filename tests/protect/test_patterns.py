"""The own detectors' literal-first spellings find exactly what the readable ones find.

``reachguard.protect.patterns.FAST`` distributes each leading group over what follows so the regex
engine can skip positions (see that module). Same paths in the same order means the same match:
checked here on the labelled loan SMS, the corpus (held-out split and every spam row of the
train part, when present) and random text built from the patterns' own words, so that nearly
every pattern fires with varied gaps, case and digits.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reachguard.protect import patterns
from reachguard.protect.normalise import fold
from reachguard.protect.train import corpus_split, data_dir, load_labelled

READABLE = {name: re.compile(p) for name, p in patterns.READABLE.items()}
FAST = {name: re.compile(p) for name, p in patterns.FAST.items()}
PHONE = re.compile(patterns.PHONE_LIKE), re.compile(patterns.PHONE_LIKE_FAST)

# Per pattern, its words (runs of CJK or Latin letters, and their prefixes) plus characters that
# fill the gaps: digits, x, spaces, link punctuation, full-width colon, a newline. Drawing one
# pattern's words at a time makes its alternatives meet within their gaps.
_FILL = list("0123456789x :/.-_：\n好的我们你您他她") + ["http://", "https://", "www.", "➕", "t.cn/", "1.2.3.4"]


def _words(p: str) -> list[str]:
    runs = re.findall(r"[\u4e00-\u9fff]+|[a-z]+", p)
    return sorted({r[: i + 1] for r in runs for i in range(len(r))})


_TEXTS = st.sampled_from(sorted(patterns.READABLE)).flatmap(
    lambda name: st.lists(
        st.sampled_from(_words(patterns.READABLE[name])) | st.sampled_from(_FILL), max_size=12
    ).map("".join)
)
EDGES = [
    "http://t.cn/a", "https://bit.ly/x y", "你朋友欠款", "你的你的朋友欠款", "缴纳0123456789保证金",
    "缴纳01234567890保证金", "利息低，立即申请", "回复 t 退订", "发送td", "把验证码发给我", "验证码发给客服",
    "法院通知您涉嫌", "领取前先转个人所得税", "加 微信", "微信号：abc12345", "下载app请点http://a.b",
]


def _same(text: str) -> None:
    for name, readable in READABLE.items():
        a, b = readable.search(text), FAST[name].search(text)
        assert (a and (a.span(), a.group())) == (b and (b.span(), b.group())), (name, text)
    a, b = PHONE[0].search(text), PHONE[1].search(text)
    assert (a and a.span()) == (b and b.span()), text


def _corpus() -> list[str]:
    if not (data_dir() / "cn_sms_spam" / "train.tsv").exists():
        return []
    split = corpus_split()
    return split.holdout_texts + [t for t, y in zip(split.train_texts, split.train_y) if y == 1]


def test_readable_spellings_are_the_detectors_definitions() -> None:
    from reachguard.protect import signals

    for name, p in patterns.READABLE.items():
        assert signals._PATTERNS[name].pattern == p  # the ungated reference path uses these


def test_fast_equals_readable_on_labelled_and_corpus() -> None:
    fired = 0
    for text in EDGES + [r["text"] for r in load_labelled()]:
        f = fold(text)
        _same(f)
        fired += any(p.search(f) for p in FAST.values())
    assert fired >= 200  # not vacuous: the labelled fraud/collection/marketing SMS fire (223)
    for text in _corpus():  # empty where ../shared/data is not beside the checkout
        _same(fold(text))


@settings(max_examples=4000, deadline=None)
@given(_TEXTS)
def test_fast_equals_readable_on_random_text(text: str) -> None:
    _same(text)


def test_random_text_reaches_every_pattern() -> None:
    """The generator above is not vacuous: each pattern matches some of its texts."""
    seen: set[str] = set()

    @settings(max_examples=4000, deadline=None, database=None)
    @given(_TEXTS)
    def probe(text: str) -> None:
        seen.update(name for name, p in FAST.items() if p.search(text))

    probe()
    assert seen == set(FAST)


def test_fast_spellings_let_the_engine_skip_ahead() -> None:
    """Each fast spelling has a first-character set (the point of it). Uses re internals."""
    parser = pytest.importorskip("re._parser")
    compiler = pytest.importorskip("re._compiler")
    for name, p in [*patterns.FAST.items(), ("PHONE_LIKE", patterns.PHONE_LIKE_FAST)]:
        assert compiler._get_charset_prefix(parser.parse(p), 0), name
