"""The vectorised scoring steps of ``classify_many`` equal their straightforward definitions.

Evidence lookup picks candidate features with a byte mask before the float gather, and the
signal weights are summed in Python floats; both must give exactly what the dense gather over
every feature and the numpy sums gave (the first implementation), on the labelled loan SMS and
part of the corpus.
"""

from __future__ import annotations

import numpy as np
import pytest

from reachguard.protect.classifier import EVIDENCE_NGRAMS, Classifier
from reachguard.protect.normalise import fold, normalise_folded
from reachguard.protect.train import corpus_split, data_dir, load_labelled

_HAS_CORPUS = (data_dir() / "cn_sms_spam" / "train.tsv").exists()


@pytest.fixture(scope="module")
def texts() -> list[str]:
    out = [r["text"] for r in load_labelled()] + ["", " ", "😀" * 5, "a\ud800b"]
    if _HAS_CORPUS:
        out += corpus_split().holdout_texts[:3000]
    return out


def _reference_quotes(clf: Classifier, x, top: np.ndarray, norm: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    table = clf._evidence
    n = x.shape[0]
    row_of = np.repeat(np.arange(n), np.diff(x.indptr))
    st = table.strength[top[row_of], x.indices]
    keep = np.flatnonzero(st > 0)
    quoted: list[list[str]] = [[] for _ in range(n)]
    r, c, s = row_of[keep], x.indices[keep], st[keep]
    for ri, ci in zip(r[np.lexsort((-s, r))].tolist(), c[np.lexsort((-s, r))].tolist()):
        term = table.terms[int(top[ri])].get(ci)
        if len(quoted[ri]) < EVIDENCE_NGRAMS and term is not None and term in norm[ri]:
            quoted[ri].append(term)
    return [", ".join(q) for q in quoted]


def test_evidence_equals_the_dense_gather(texts: list[str]) -> None:
    clf = Classifier.load()
    quoted = 0
    for i in range(0, len(texts), 500):
        norm = [normalise_folded(fold(t)) for t in texts[i : i + 500]]
        x = clf.vectoriser.transform(norm)
        for top in (np.argmax(clf.model_logits(x), axis=1), np.zeros(len(norm), dtype=np.int64)):
            got = clf._evidence.quote_batch(x, top, norm)
            assert got == _reference_quotes(clf, x, top, norm)
            quoted += sum(bool(q) for q in got)
    assert quoted > 500  # not vacuous


def test_scores_equal_numpy_sums_of_signal_weights(texts: list[str]) -> None:
    clf = Classifier.load(use_content_review=False)
    answers = clf.classify_many(texts)
    logits = clf.model_logits(clf.vectorise(texts))
    adds = np.zeros((len(texts), len(clf.labels)))
    for i, a in enumerate(answers):
        for s in a.signals[1:]:  # after TEXT_MODEL, the model's own line
            adds[i, clf.labels.index(s.label)] += s.weight
    total = logits + adds
    total -= total.max(axis=1, keepdims=True)
    probs = np.exp(total)
    probs /= probs.sum(axis=1, keepdims=True)
    assert [list(a.scores.values()) for a in answers] == probs.tolist()
