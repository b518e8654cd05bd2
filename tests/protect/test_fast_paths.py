"""The classifier's fast content-review path gives the same answers as the plain one.

The fast path (``review_spans``: only the prohibited-content codes, no findings objects, no
MISSING_* checks, no length) must change nothing: same signals, same evidence, same order, so
the same labels and scores. Compared on our labelled loan SMS, tricky texts, and the shared
corpus (held-out split plus every spam row of the train part) when it is present.
"""

from __future__ import annotations

import pytest

from reachguard.protect import combine
from reachguard.protect.classifier import Classifier
from reachguard.protect.normalise import fold
from reachguard.protect.train import corpus_split, data_dir, load_labelled

_DATA = data_dir()
_HAS_CORPUS = (_DATA / "cn_sms_spam" / "train.tsv").exists()
TRICKY = [
    "", " ", "a\ud800b", "😀" * 30, "放款前先交保证金\udc00 加微信dk888",
    "a\ud800b http://t.cn/abc",  # a lone surrogate: both paths review it as U+FFFD
    "\U0002a6a5贷款前先交保证金",
    "【安心借】放款前先交保证金 http://t.cn/abc 加微信dk888",
    "您好，黑 户 可 代 款！秒ｐｉ，無視徵信，否則後果自負。",
    "法院传票：你已涉嫌诈骗，请将资金转入安全账户 1.2.3.4:8080/a",
    "老赖，不还就上门找你，通知你的家人。你朋友欠款不还",
    "ＨＴＴＰ：／／ｔ．ｃｎ／ａ 点击 bit.ly/3xYz 领取额度",
]


def _texts() -> list[str]:
    texts = [r["text"] for r in load_labelled()] + TRICKY
    if _HAS_CORPUS:
        split = corpus_split(_DATA)
        texts += split.holdout_texts
        texts += [t for t, y in zip(split.train_texts, split.train_y) if y == 1]
    return texts


def test_content_review_is_the_real_one() -> None:
    assert combine.content_review() is not None
    assert combine._fast_review() is not None
    assert combine._fast_review()[0] is combine.content_review()


def test_fast_signals_equal_plain_signals() -> None:
    texts = _texts()
    fired = mapped = 0
    for text in texts:
        f = fold(text)
        fast = combine.collect(text, f, fast=True)
        assert fast == combine.collect(text, f, fast=False), text
        content = [s for s in fast if s.source == "content"]
        fired += len(content)
        mapped += sum(1 for s in content if s.evidence not in f)  # evidence quoted from the raw text
    assert fired >= 100  # not vacuous: the review fires on the labelled fraud/collection messages
    assert mapped >= 10  # and some evidence is quoted from the raw text (full-width, Traditional …)


@pytest.mark.skipif(not _HAS_CORPUS, reason="shared corpus not present")
def test_corpus_fires_content_signals() -> None:
    split = corpus_split(_DATA)
    spam = [t for t, y in zip(split.holdout_texts, split.holdout_y) if y == 1]
    assert sum(bool(combine.content_signals_fast(t, combine._fast_review()[1])) for t in spam) >= 20


def test_classify_many_answers_are_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [r["text"] for r in load_labelled()] + TRICKY
    if _HAS_CORPUS:
        texts += corpus_split(_DATA).holdout_texts[:4000]
    clf = Classifier.load()
    fast = clf.classify_many(texts)
    monkeypatch.setattr(combine, "_spans_cache", [None])  # as if review_spans did not exist
    plain = clf.classify_many(texts)
    assert [a.to_dict() for a in fast] == [b.to_dict() for b in plain]
    assert any(s.source == "content" for a in fast for s in a.signals)


def test_failing_fast_path_falls_back_to_own_detectors(monkeypatch: pytest.MonkeyPatch) -> None:
    real_review = combine.content_review()

    def broken(*_a: object, **_k: object) -> list[tuple[int, int, str]]:
        raise RuntimeError("boom")

    monkeypatch.setattr(combine, "_spans_cache", [(real_review, broken)])
    text = "您好，您申请的贷款已审核通过，请缴纳3000元解冻金后即可放款。"
    sigs = combine.collect(text, fold(text))
    assert "FEE_BEFORE_LOAN" in {s.name for s in sigs}
    assert all(s.source != "content" for s in sigs)
