"""Model selection for the inbound SMS classifier, on the TRAINING part only (issue 5).

The held-out split of ``cn_sms_spam/train.tsv`` (``protect.train.corpus_split``) is never used
here. A validation split is carved out of the train part (stratified 15 %, seed 7); for each
``C:spam_weight`` given, the model is fitted as ``protect.train`` fits it (plus the labelled
train rows, weight 20) on the rest, and the spam/normal F1 on the validation split is printed
for the linear model alone and for the full classifier (model + signals), with the signals
that flipped the model's answer (fixes / breaks). This is how C and ``SPAM_WEIGHT`` of
``protect/train.py`` were chosen.

Run: .venv/bin/python bench/classify_select.py 30:1 100:2 100:3   (each fit takes 1-4 minutes)
"""

from __future__ import annotations

import argparse
import collections

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from _common import machine
from reachguard.protect.classifier import FEATURE_PARAMS, Classifier, make_vectoriser
from reachguard.protect.normalise import normalise
from reachguard.protect.signals import LABELS
from reachguard.protect.train import LABELLED_WEIGHT, MAX_ITER, corpus_split, data_dir, load_labelled

VALIDATION_SEED = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("grid", nargs="+", help="C:spam_weight pairs, e.g. 30:1 100:2")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    split = corpus_split(data_dir(args.data_dir))
    fit_texts, val_texts, fit_y, val_y = train_test_split(
        split.train_texts, split.train_y.astype(int), test_size=0.15, stratify=split.train_y, random_state=VALIDATION_SEED)
    print(f"train part {len(split.train_texts)} rows -> fit {len(fit_texts)}, validation {len(val_texts)} "
          f"({int(val_y.sum())} spam); held-out split not used")
    labelled = load_labelled(split="train")
    vec = make_vectoriser()
    x = sparse.vstack([vec.transform([normalise(t) for t in fit_texts]),
                       vec.transform([normalise(r["text"]) for r in labelled])]).tocsr()
    y = np.concatenate([np.where(fit_y == 1, LABELS.index("marketing"), LABELS.index("normal")),
                        [LABELS.index(r["label"]) for r in labelled]])
    meta = {"labels": list(LABELS), "features": dict(FEATURE_PARAMS), "evidence_ngrams": {}}
    for item in args.grid:
        c, spam_weight = (float(v) for v in item.split(":"))
        weight = np.concatenate([np.where(fit_y == 1, spam_weight, 1.0), np.full(len(labelled), LABELLED_WEIGHT)])
        model = LogisticRegression(C=c, max_iter=MAX_ITER, tol=1e-6).fit(x, y, sample_weight=weight)
        clf = Classifier(model.coef_.astype(np.float32), model.intercept_.astype(np.float32), meta)
        alone = (clf.model_logits(clf.vectorise(val_texts)).argmax(axis=1) != 0).astype(int)
        answers = clf.classify_many(val_texts)
        full = np.array([a.label != "normal" for a in answers], dtype=int)
        flips: collections.Counter[str] = collections.Counter()
        for i in np.flatnonzero(alone != full):
            verdict = "fixes" if full[i] == val_y[i] else "breaks"
            flips.update(f"{s.name} {verdict}" for s in answers[i].signals[1:])
        print(f"C={c:g} spam_weight={spam_weight:g}: model alone F1 {f1_score(val_y, alone):.4f}, "
              f"full classifier F1 {f1_score(val_y, full):.4f}; signals on flipped answers {dict(flips)}", flush=True)


if __name__ == "__main__":
    main()
