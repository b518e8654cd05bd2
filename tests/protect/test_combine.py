"""``collect_many`` (the batch path of ``classify_many``) gives exactly ``collect``'s lists."""

from __future__ import annotations

import pytest

from reachguard.protect import combine
from reachguard.protect.normalise import fold
from reachguard.protect.train import corpus_split, data_dir, load_labelled

TRICKY = [
    "", "a\ud800b http://t.cn/abc", "验证码 123456，请把验证码发给客服",  # CODE_REQUEST cancels VERIFICATION_CODE
    "【安心借】放款前先交保证金 http://t.cn/abc 加微信dk888",
    "法院传票：你已涉嫌诈骗，请将资金转入安全账户 1.2.3.4:8080/a",
    "老赖，不还就上门找你，通知你的家人。你朋友欠款不还",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    out = TRICKY + [r["text"] for r in load_labelled()]
    if (data_dir() / "cn_sms_spam" / "train.tsv").exists():
        out += corpus_split().holdout_texts[:3000]
    return out


@pytest.mark.parametrize("use_content_review", [True, False])
def test_collect_many_equals_collect(texts: list[str], use_content_review: bool) -> None:
    folded = [fold(t) for t in texts]
    many = combine.collect_many(texts, folded, use_content_review)
    assert many == [combine.collect(t, f, use_content_review) for t, f in zip(texts, folded)]
    assert any(s.source == "content" for sigs in many for s in sigs) == use_content_review
    names = [[s.name for s in sigs] for sigs in many]
    assert all(len(n) == len(set(n)) for n in names)
    assert any("CODE_REQUEST" in n for n in names) and not any(
        "CODE_REQUEST" in n and "VERIFICATION_CODE" in n for n in names
    )
    assert len({id(sigs) for sigs in many}) == len(many)  # fresh lists: the classifier inserts into them


def test_collect_many_plain_path_and_broken_review(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folded = [fold(t) for t in texts[:300]]
    want = [combine.collect(t, f, fast=False) for t, f in zip(texts, folded)]
    monkeypatch.setattr(combine, "_spans_cache", [None])  # as if review_spans did not exist
    assert combine.collect_many(texts[:300], folded) == want

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(combine, "_review_cache", [broken])
    own_only = combine.collect_many(texts[:300], folded, use_content_review=False)
    assert combine.collect_many(texts[:300], folded) == own_only
