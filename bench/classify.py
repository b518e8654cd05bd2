"""Throughput of the inbound SMS classifier on one core, beside a bare scikit-learn predict.

Both paths use the same vectoriser (the batch n-gram hasher, ``reachguard.protect.features``)
and the same weights (the shipped model):
* bare: ``CharNgramHasher.transform`` + sklearn ``LogisticRegression.predict`` on raw texts
  (no normalisation, no signals, no explanation);
* for scale, sklearn's own ``HashingVectorizer`` (same n-gram settings) + the same predict —
  only its cost is meaningful, its hash differs from the model's;
* ReachGuard: ``Classifier.classify_many`` — normalise, vectorise, logits, every signal
  (content review included when importable), softmax, evidence — as the CLI and API run it;
* ReachGuard without the content review, and the model path alone, to show where time goes.

Messages: the corpus held-out split plus our labelled loan SMS (realistic lengths), cycled to
``--n``. Medians of ``--repeats`` runs. Target ≥ 20,000 messages/s.

Run: .venv/bin/python bench/classify.py [--n 20000] [--repeats 5] [--batch 1024]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before numpy is imported

import argparse
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import sklearn
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from reachguard.protect.classifier import Classifier
from reachguard.protect.signals import content_review
from reachguard.protect.train import corpus_split, load_labelled


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def timed(fn: Callable[[], object], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1024)
    args = parser.parse_args()

    pinned = pin_one_core()
    print(f"machine: {platform.platform()} · {platform.processor() or platform.machine()} · "
          f"{os.cpu_count()} CPUs ({pinned}) · Python {sys.version.split()[0]} · "
          f"numpy {np.__version__} · scikit-learn {sklearn.__version__}")

    split = corpus_split()
    pool = split.holdout_texts + [r["text"] for r in load_labelled()]
    texts = list(itertools.islice(itertools.cycle(pool), args.n))
    mean_len = sum(map(len, texts)) / len(texts)
    print(f"messages: {len(texts)} (corpus held-out + labelled loan SMS, mean {mean_len:.0f} chars), "
          f"median of {args.repeats} runs, batches of {args.batch}")

    clf = Classifier.load()
    own = Classifier.load(use_content_review=False)
    bare = LogisticRegression()
    bare.coef_ = clf.weights.T.astype(np.float64)
    bare.intercept_ = clf.intercept.astype(np.float64)
    bare.classes_ = np.arange(len(clf.labels))
    vec = clf.vectoriser
    skvec = HashingVectorizer(
        analyzer="char", ngram_range=vec.ngram_range, n_features=vec.n_features,
        alternate_sign=False, binary=True, norm="l2", dtype=np.float32,
    )

    def batches() -> list[list[str]]:
        return [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]

    chunks = batches()
    cases: list[tuple[str, Callable[[], object]]] = [
        ("bare: same vectoriser + sklearn predict", lambda: [bare.predict(vec.transform(c)) for c in chunks]),
        ("(scale) sklearn HashingVectorizer + predict", lambda: [bare.predict(skvec.transform(c)) for c in chunks]),
        ("ReachGuard model path (normalise + logits)", lambda: [own.model_logits(own.vectorise(c)) for c in chunks]),
        ("ReachGuard classify_many, own signals", lambda: [own.classify_many(c) for c in chunks]),
    ]
    if content_review() is not None:
        cases.append(("ReachGuard classify_many, + content review", lambda: [clf.classify_many(c) for c in chunks]))
    else:
        print("(content review not importable: that row is skipped)")

    for _, fn in cases:  # warm-up (imports, caches, automaton build)
        fn()
    base = None
    for name, fn in cases:
        rate = len(texts) / timed(fn, args.repeats)
        base = base or rate
        print(f"  {name:<46} {rate:>10,.0f} msg/s   ratio to bare {rate / base:5.2f}")
    print("target: ≥ 20,000 msg/s for the full classifier")


if __name__ == "__main__":
    main()
