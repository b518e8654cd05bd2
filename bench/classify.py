"""Throughput of the inbound SMS classifier on one core, beside a bare scikit-learn predict.

Both paths use the same vectoriser (the batch n-gram hasher, ``reachguard.protect.features``)
and the same weights (the shipped model):
* bare: ``CharNgramHasher.transform`` + sklearn ``LogisticRegression.predict`` on raw texts
  (no normalisation, no signals, no explanation);
* for scale, sklearn's own ``HashingVectorizer`` (same n-gram settings) + the same predict —
  only its cost is meaningful, its hash differs from the model's;
* ReachGuard: ``Classifier.classify_many`` — normalise, vectorise, logits, every signal
  (content review included when importable), softmax, evidence — as the CLI and API run it;
* ReachGuard without the content review, the model path alone, and the full classifier with the
  content review composed the old way (a full ``review()`` per message), to show where time goes.

Every case runs once per repeat, in turn; the bench prints medians of wall-clock and CPU time
(``process_time``) and the load average. On a shared machine the CPU figure is the one-core figure.

Messages: the corpus held-out split plus our labelled loan SMS (realistic lengths), cycled to
``--n``. Medians of ``--repeats`` runs. Target ≥ 20,000 messages/s.

``--no-gc`` disables the garbage collector while timing, to show its share: this process imports
scikit-learn (a large heap) and keeps every batch's answers, so full collections are costly here.

Run: .venv/bin/python bench/classify.py [--n 20000] [--repeats 5] [--batch 1024] [--pool mix|loan] [--no-gc]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before numpy is imported

import argparse
import contextlib
import gc
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import sklearn
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from reachguard.protect.classifier import Classifier
try:
    from reachguard.protect import combine as signals  # where the content-review bridge lives now
except ImportError:  # code from before the split (A/B runs against an older commit)
    from reachguard.protect import signals  # type: ignore[no-redef]
content_review = signals.content_review
from reachguard.protect.train import corpus_split, load_labelled


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def timed(cases: list[tuple[str, Callable[[], object]]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per case. The cases take turns within each repeat, so a
    change in machine load hits every row alike; CPU time (``process_time``: this process only,
    one thread) leaves out the time spent waiting for a core on a shared machine."""
    wall: dict[str, list[float]] = {name: [] for name, _ in cases}
    cpu: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(repeats):
        for name, fn in cases:
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name, _ in cases}


def loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "unknown"


@contextlib.contextmanager
def plain_content_review() -> Iterator[None]:
    """The content review the way it was composed before: a full ``review()`` per message
    (findings, MISSING_* checks, length), read back into signals. Same answers, slower."""
    saved = list(signals._spans_cache)
    signals._spans_cache[:] = [None]
    try:
        yield
    finally:
        signals._spans_cache[:] = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--pool", choices=("mix", "loan"), default="mix",
                        help="mix: corpus held-out + labelled loan SMS; loan: the labelled loan SMS only")
    parser.add_argument("--no-gc", action="store_true", help="garbage collector off while timing")
    args = parser.parse_args()

    pinned = pin_one_core()
    print(f"machine: {platform.platform()} · {platform.processor() or platform.machine()} · "
          f"{os.cpu_count()} CPUs ({pinned}) · Python {sys.version.split()[0]} · "
          f"numpy {np.__version__} · scikit-learn {sklearn.__version__}")

    pool = [r["text"] for r in load_labelled()]
    if args.pool == "mix":
        pool = corpus_split().holdout_texts + pool
    texts = list(itertools.islice(itertools.cycle(pool), args.n))
    mean_len = sum(map(len, texts)) / len(texts)
    what = "corpus held-out + labelled loan SMS" if args.pool == "mix" else "labelled loan SMS only"
    print(f"messages: {len(texts)} ({what}, mean {mean_len:.0f} chars), "
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
    full_name = "FULL classifier: classify_many + content review"

    def plain_full() -> object:
        with plain_content_review():
            return [clf.classify_many(c) for c in chunks]

    cases: list[tuple[str, Callable[[], object]]] = [
        ("bare: same vectoriser + sklearn predict", lambda: [bare.predict(vec.transform(c)) for c in chunks]),
        ("(scale) sklearn HashingVectorizer + predict", lambda: [bare.predict(skvec.transform(c)) for c in chunks]),
        ("model path (normalise + logits)", lambda: [own.model_logits(own.vectorise(c)) for c in chunks]),
        ("classify_many, own signals only", lambda: [own.classify_many(c) for c in chunks]),
    ]
    if content_review() is not None:
        cases.append((full_name, lambda: [clf.classify_many(c) for c in chunks]))
        if hasattr(signals, "_spans_cache"):  # absent in code from before the fast path (A/B runs)
            cases.append(("  same, content review via plain review()", plain_full))
    else:
        print("(content review not importable: the full-classifier rows are skipped)")

    for _, fn in cases:  # warm-up (imports, caches, automaton build)
        fn()
    load_before = loadavg()
    if args.no_gc:
        gc.collect()
        gc.disable()
        print("garbage collector disabled while timing (--no-gc)")
    results = timed(cases, args.repeats)
    gc.enable()
    print(f"load average (1, 5, 15 min): {load_before} before, {loadavg()} after")
    print(f"  {'path':<46} {'CPU msg/s':>10} {'µs/msg':>7} {'÷ bare':>7}   {'wall msg/s':>10} {'÷ bare':>7}")
    base_wall, base_cpu = results[cases[0][0]]
    for name, _ in cases:
        w, c = results[name]
        print(f"  {name:<46} {len(texts) / c:>10,.0f} {c / len(texts) * 1e6:>7.1f} {base_cpu / c:>7.2f}   "
              f"{len(texts) / w:>10,.0f} {base_wall / w:>7.2f}")
    if full_name in results:
        rate = len(texts) / results[full_name][1]
        verdict = "met" if rate >= 20_000 else "NOT met"
        print(f"full classifier (what `reachguard classify` and POST /v1/classify answer): {rate:,.0f} msg/s "
              f"CPU time on one core; target ≥ 20,000 msg/s: {verdict}")


if __name__ == "__main__":
    main()
