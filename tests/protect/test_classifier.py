"""The inbound SMS classifier: shipped model, clear cases of each label, signals, held-out quality."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from reachguard.protect import combine
from reachguard.protect import signals as signals_mod
from reachguard.protect.classifier import Classifier
from reachguard.protect.normalise import normalise
from reachguard.protect.signals import LABELS, SPECS
from reachguard.protect.train import corpus_split, data_dir, load_labelled


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load()


@pytest.fixture(scope="module")
def clf_own() -> Classifier:
    """Own detectors only: the classifier must work without the content review module."""
    return Classifier.load(use_content_review=False)


CLEAR = {
    "normal": [
        "【工商银行】您尾号6621的卡于11月22日14:03消费支出人民币238.50元，余额3,412.07元。",
        "【支付宝】验证码：736204，您正在使用短信验证码登录，切勿告知他人。",
        "【顺丰速运】您的快件SF1402875561230已到达望京营业点，快递员正在派送，请保持电话畅通。",
    ],
    "marketing": [
        "【度小满】您的预授信额度已更新，最高可借200,000元，年化利率低至7.2%，立即查看。拒收请回R",
        "【招联金融】尊敬的客户，您有一笔最高50,000元的借款额度待领取，年化利率7.2%起，登录APP即可申请。回T退订",
        "【唯品会】年终大促，全场2折起，满300减50，今晚8点开抢！退订回T",
    ],
    "collection": [
        "【360借条】您在我司的借款已逾期7天，应还金额2,315.00元，请于今日内还款，还款渠道：APP-我的借款。",
        "你好张伟，你在某某贷的欠款已经逾期两个月了，今天必须还清，否则后果自负。",
        "【平安普惠】尊敬的客户，您的贷款已逾期12天，欠款4,980.00元，请立即还款或联系95511协商还款方案。",
    ],
    "fraud": [
        "无视征信，黑户可贷，有身份证就能借，最高20万，当天下款，加微信dk88866详谈。",
        "您好，您申请的贷款已审核通过，因银行卡号填写错误导致资金被冻结，请缴纳3000元解冻金后即可放款。",
        "我是市公安局刑侦支队民警，你的身份证涉嫌一起洗钱案，需将资金转入安全账户配合调查。",
    ],
}


def test_loads_from_package_data(clf: Classifier) -> None:
    assert clf.labels == LABELS
    assert clf.weights.shape == (clf.meta["features"]["n_features"], 4)
    assert clf.meta["training"]["split_seed"] == 20261123
    # the artefact is small: a few MB at most
    models = Path(__file__).resolve().parents[2] / "src" / "reachguard" / "data" / "models"
    assert sum(p.stat().st_size for p in models.glob("sms_classifier.*")) < 4_000_000


@pytest.mark.parametrize("which", ["clf", "clf_own"])
@pytest.mark.parametrize("label", LABELS)
def test_clear_cases(which: str, label: str, request: pytest.FixtureRequest) -> None:
    classifier: Classifier = request.getfixturevalue(which)
    for text in CLEAR[label]:
        result = classifier.classify(text)
        assert result.label == label, (text, result.to_dict())


def test_scores_sum_to_one_and_batch_matches_single(clf: Classifier) -> None:
    texts = [t for group in CLEAR.values() for t in group]
    batch = clf.classify_many(texts)
    for text, b in zip(texts, batch, strict=True):
        assert set(b.scores) == set(LABELS)
        assert math.isclose(sum(b.scores.values()), 1.0, rel_tol=0, abs_tol=1e-9)
        single = clf.classify(text)
        assert single.label == b.label
        assert single.to_dict() == b.to_dict()


def test_signals_are_listed_with_weights_and_evidence(clf_own: Classifier) -> None:
    result = clf_own.classify("您好，您的贷款已批准，放款前需先交5%的保证金，请加微信kf2026办理。")
    by_name = {s.name: s for s in result.signals}
    assert result.label == "fraud"
    assert by_name["FEE_BEFORE_LOAN"].weight == SPECS["FEE_BEFORE_LOAN"].weight
    assert "保证金" in by_name["FEE_BEFORE_LOAN"].evidence
    assert "SUSPICIOUS_LINK" in by_name
    assert result.signals[0].name == "TEXT_MODEL"
    for s in result.to_dict()["signals"]:
        assert set(s) >= {"name", "weight", "evidence", "label"}


def test_signal_weights_move_the_scores(clf_own: Classifier) -> None:
    """A fired signal adds its weight to its label's logit: removing it must lower that score."""
    text = "您的借款已逾期，请尽快还款。"
    with_sig = clf_own.classify(text)
    assert any(s.name == "DEBT_OVERDUE" for s in with_sig.signals)
    logits = clf_own.model_logits(clf_own.vectorise([text]))[0]
    p_model = np.exp(logits - logits.max())
    p_model /= p_model.sum()
    assert with_sig.scores["collection"] > p_model[LABELS.index("collection")]


def test_verification_code_request_is_not_reassuring(clf_own: Classifier) -> None:
    names = {s.name for s in clf_own.classify("【客服】您的账户异常，请把收到的验证码发给客服核实，验证码 123456").signals}
    assert "CODE_REQUEST" in names and "VERIFICATION_CODE" not in names


def test_content_review_failure_falls_back(monkeypatch: pytest.MonkeyPatch, clf: Classifier) -> None:
    """A broken content-review module must not break classification."""

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(combine, "_review_cache", [broken])
    result = clf.classify(CLEAR["fraud"][1])
    assert result.label == "fraud"
    assert all(s.source != "content" for s in result.signals)


def test_digits_and_spaces_do_not_decide(clf: Classifier) -> None:
    """Artefacts: the same message with digits masked, or with extra spaces, scores the same."""
    a = "【工商银行】您尾号6621的卡消费支出238.50元"
    b = "【工商银行】您尾号xxxx的卡消费支出xxx.xx元"
    c = "【工商银行】  您尾号6621的卡   消费支出238.50元 "
    assert normalise(a) == normalise(b) == normalise(c)
    la, lb, lc = (clf.model_logits(clf.vectorise([t]))[0] for t in (a, b, c))
    assert np.allclose(la, lb) and np.allclose(la, lc)


_DATA = data_dir()


@pytest.mark.skipif(not (_DATA / "cn_sms_spam" / "train.tsv").exists(), reason="shared corpus not present")
def test_quality_on_held_out_split(clf_own: Classifier) -> None:
    """Spam vs normal on the 15% of the corpus that training never sees (model alone: fast).

    The issue's target is F1 ≥ 0.985; with the artefacts removed this linear model reaches
    ≈ 0.95 (see docs/classifier.md). The threshold guards against regressions, it is not the goal.
    """
    split = corpus_split(_DATA)
    pred = clf_own.model_logits(clf_own.vectorise(split.holdout_texts)).argmax(axis=1) != 0
    y = split.holdout_y == 1
    tp = int(np.sum(pred & y))
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / int(y.sum())
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.94, f1


def test_labelled_holdout_macro_f1(clf: Classifier) -> None:
    """Four labels on the holdout part of our own set (never trained on). Target 0.90."""
    rows = load_labelled(split="holdout")
    preds = [r.label for r in clf.classify_many([r["text"] for r in rows])]
    f1s = []
    for lab in LABELS:
        tp = sum(1 for r, p in zip(rows, preds, strict=True) if r["label"] == lab and p == lab)
        n_pred = sum(1 for p in preds if p == lab)
        n_true = sum(1 for r in rows if r["label"] == lab)
        prec, rec = tp / max(n_pred, 1), tp / max(n_true, 1)
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    assert sum(f1s) / 4 >= 0.85, f1s


def test_labelled_set_is_large_and_well_formed() -> None:
    rows = load_labelled()
    assert len(rows) >= 300
    assert {r["label"] for r in rows} == set(LABELS)
    assert {r["split"] for r in rows} <= {"train", "holdout", "fresh", "fresh2"}
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["text"] for r in rows}) == len(rows)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_tiny_training_run(tmp_path: Path) -> None:
    """The training code path end to end, on a tiny synthetic corpus (no real training in tests)."""
    from reachguard.protect import train as train_mod

    corpus = tmp_path / "cn_sms_spam"
    corpus.mkdir()
    lines = ["label\ttext"]
    for i in range(40):
        lines.append(f"1\t全场{i}折优惠，欢迎光临本店，详询电话")
        lines.append(f"0\t今天的新闻说第{i}场比赛很精彩")
    (corpus / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = train_mod.train(tmp_path, tmp_path / "model", verbose=False, max_iter=50)
    small = Classifier.load(out, use_content_review=False)
    assert small.meta["training"]["corpus_train_rows"] == 68
    assert small.classify("全场5折优惠，欢迎光临").label == "marketing"


def test_data_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REACHGUARD_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert data_dir("/x/y") == Path("/x/y")
    monkeypatch.delenv("REACHGUARD_DATA_DIR")
    assert data_dir().name == "data" and data_dir().parent.name == "shared"
    assert os.fspath(data_dir()).endswith(os.path.join("shared", "data"))


def test_speed_gates_never_change_a_signal() -> None:
    """The character gates that skip hopeless regex searches are exact (same signals either way)."""
    from reachguard.protect.normalise import fold

    texts = [r["text"] for r in load_labelled()] + [t for group in CLEAR.values() for t in group]
    texts += ["http://1.2.3.4/x 加vx", "放款前先充值", "把验证码发给我", "你朋友欠款不还", "点击领取额度"]
    if (_DATA / "cn_sms_spam" / "train.tsv").exists():
        split = corpus_split(_DATA)
        texts += split.holdout_texts[:3000] + [t for t, y in zip(split.holdout_texts, split.holdout_y) if y == 1]
    for text in texts:
        f = fold(text)
        assert signals_mod.own_signals(f) == signals_mod.own_signals(f, gated=False), text


def test_odd_input_is_classified_not_crashed(clf: Classifier) -> None:
    results = clf.classify_many(["", "   ", "a\ud800b", "😀" * 50, "x" * 10_000])
    assert len(results) == 5
    assert all(abs(sum(r.scores.values()) - 1) < 1e-9 for r in results)
    assert clf.classify_many([]) == []


@pytest.mark.parametrize("fast", [True, False])
def test_lone_surrogate_is_reviewed_as_a_replacement_character(fast: bool, caplog: pytest.LogCaptureFixture) -> None:
    """A library caller's str with a lone surrogate gets the content review's signals (the review
    reads it as U+FFFD), on the fast and the plain path alike, with no fallback warning."""
    text = "【安心借】放款前先交保证金\udc00 加微信dk888 http://t.cn/abc"
    fffd = text.replace("\udc00", "\ufffd")
    with caplog.at_level("WARNING"):
        got = [s for s in combine.collect(text, normalise(text), fast=fast) if s.source == "content"]
    assert not caplog.records
    want = [s for s in combine.collect(fffd, normalise(fffd), fast=fast) if s.source == "content"]
    assert [s.name for s in got] == [s.name for s in want] and got
    assert {"FEE_BEFORE_LOAN", "SUSPICIOUS_LINK"} <= {s.name for s in got}
