"""Inbound SMS classifier: labels a message ``normal``, ``marketing``, ``collection`` or ``fraud``.

How a message is scored (rspamd-style: a statistical score plus named symbols):

1. :func:`~reachguard.protect.normalise.normalise` removes the corpus artefacts (digits → ``x``,
   whitespace collapsed, NFKC), so the model cannot learn "has a digit → normal".
2. Character 1–3-grams are hashed (:class:`~reachguard.protect.features.CharNgramHasher`, the
   ``HashingVectorizer`` idea vectorised over a batch: no vocabulary to ship, so the model
   stays small) and a multinomial logistic regression gives one logit per label. It is trained on
   the real Chinese SMS corpus (spam → ``marketing``) plus the train part of our own labelled
   loan-SMS set (see :mod:`reachguard.protect.train`).
3. Named signals (:mod:`reachguard.protect.signals`: content-review findings when available,
   plus a few classification-specific detectors) each add a fixed weight to one label's logit.
4. Softmax over the summed logits gives ``scores`` (sum to 1); ``label`` is the arg-max. The
   answer lists every signal with its weight, including the model's own contribution
   (``TEXT_MODEL``) with the n-grams that pushed it most.

The shipped model is an ``.npz`` of arrays plus a JSON description in package data; loading
never downloads anything and unpickles nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from reachguard.protect.features import CharNgramHasher
from reachguard.protect.normalise import fold, normalise_folded
from reachguard.protect.combine import collect_many
from reachguard.protect.signals import LABELS, Signal

MODEL_NAME = "sms_classifier"
"""Base name of the artefact pair in ``reachguard/data/models/``: ``.npz`` + ``.json``."""

FEATURE_PARAMS: dict[str, Any] = {
    "kind": "char_ngram_hash_v1",
    "ngram_range": (1, 3),
    "n_features": 2**18,
}
"""Vectoriser settings (binary, L2-normalised); stateless, so train and load only need to agree
on these values."""

EVIDENCE_NGRAMS = 3
"""How many n-grams the ``TEXT_MODEL`` signal quotes as evidence."""


def make_vectoriser(params: dict[str, Any] | None = None) -> CharNgramHasher:
    """The n-gram hasher for ``params`` (default :data:`FEATURE_PARAMS`)."""
    p = FEATURE_PARAMS if params is None else params
    if p.get("kind") != FEATURE_PARAMS["kind"]:
        raise ValueError(f"unknown feature kind {p.get('kind')!r}")
    lo, hi = p["ngram_range"]
    return CharNgramHasher((lo, hi), int(p["n_features"]))


@dataclass(slots=True)
class Classification:
    """The answer for one message, as in the contract: label, scores, signals."""

    label: str
    scores: dict[str, float]
    signals: list[Signal] = field(default_factory=list)

    def to_dict(self, digits: int | None = None) -> dict[str, Any]:
        """JSON-ready dict; ``digits`` rounds the scores for display (API keeps full floats)."""
        scores = self.scores if digits is None else {k: round(v, digits) for k, v in self.scores.items()}
        return {"label": self.label, "scores": scores, "signals": [s.to_dict() for s in self.signals]}


class Classifier:
    """A loaded model plus the signal layer. Thread-safe for reading; build once, reuse."""

    def __init__(
        self,
        coef: np.ndarray,
        intercept: np.ndarray,
        meta: dict[str, Any],
        *,
        use_content_review: bool = True,
    ) -> None:
        labels = tuple(meta["labels"])
        if labels != LABELS:
            raise ValueError(f"model labels {labels} differ from {LABELS}")
        self.labels = labels
        self.meta = meta
        self.vectoriser = make_vectoriser(meta["features"])
        # (n_features, n_labels) float32: a sparse row times this is one small mat-mul per batch.
        self.weights = np.ascontiguousarray(coef.T, dtype=np.float32)
        self.intercept = intercept.astype(np.float32)
        self.use_content_review = use_content_review
        self._evidence = _EvidenceTable(meta.get("evidence_ngrams", {}), labels, self.weights)
        self._label_index = {lab: i for i, lab in enumerate(labels)}

    # --- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None, *, use_content_review: bool = True) -> Classifier:
        """Load the shipped model from package data (or ``path`` = the ``.npz`` file); no network."""
        if path is None:
            base = resources.files("reachguard") / "data" / "models"
            npz_file = base / f"{MODEL_NAME}.npz"
            json_file = base / f"{MODEL_NAME}.json"
            with npz_file.open("rb") as fh:
                arrays = dict(np.load(fh, allow_pickle=False))
            meta = json.loads(json_file.read_text(encoding="utf-8"))
        else:
            npz_path = Path(path)
            with np.load(npz_path, allow_pickle=False) as z:
                arrays = dict(z)
            meta = json.loads(npz_path.with_suffix(".json").read_text(encoding="utf-8"))
        return cls(arrays["coef"], arrays["intercept"], meta, use_content_review=use_content_review)

    # --- scoring -------------------------------------------------------------------------

    def vectorise(self, texts: list[str]) -> sparse.csr_matrix:
        """Normalised character n-gram features for ``texts`` (the model's view)."""
        return self.vectoriser.transform([normalise_folded(fold(t)) for t in texts])

    def model_logits(self, x: sparse.csr_matrix) -> np.ndarray:
        """One logit per label from the linear model alone, shape (n, 4)."""
        return np.asarray(x @ self.weights) + self.intercept

    def classify(self, text: str) -> Classification:
        """Classify one message."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: list[str]) -> list[Classification]:
        """Classify a batch: features, logits, softmax and evidence vectorised; signals per message."""
        n = len(texts)
        if n == 0:
            return []
        folded = [fold(t) for t in texts]
        norm = [normalise_folded(f) for f in folded]
        x = self.vectoriser.transform(norm)
        logits = self.model_logits(x)
        found = collect_many(texts, folded, self.use_content_review)
        index, width = self._label_index, len(self.labels)
        add_rows: list[list[float]] = []
        for sigs in found:  # summed in Python floats (the same doubles numpy would add), no
            row = [0.0] * width  # numpy scalar indexing per signal
            for s in sigs:
                row[index[s.label]] += s.weight
            add_rows.append(row)
        adds = np.array(add_rows, dtype=np.float64)
        total = logits + adds
        total -= total.max(axis=1, keepdims=True)
        probs = np.exp(total)
        probs /= probs.sum(axis=1, keepdims=True)
        ranked = np.argsort(-logits, axis=1)
        top = ranked[:, 0]
        rows = np.arange(n)
        # float64 before rounding: a rounded float32 prints as 4.421999931335449
        margins = (logits[rows, top] - logits[rows, ranked[:, 1]]).astype(np.float64).round(3).tolist()
        evidence = self._evidence.quote_batch(x, top, norm)
        labels = self.labels
        top_list = top.tolist()  # Python ints: indexing with numpy scalars costs ~0.1 µs each
        out: list[Classification] = []
        for i, (p, lab_i) in enumerate(zip(probs.tolist(), probs.argmax(axis=1).tolist(), strict=True)):
            sigs = found[i]  # a fresh list from collect_many(): reused, not copied (fewer GC-tracked objects)
            sigs.insert(0, Signal("TEXT_MODEL", labels[top_list[i]], margins[i], evidence[i], "model"))
            out.append(Classification(labels[lab_i], dict(zip(labels, p, strict=True)), sigs))
        return out


class _EvidenceTable:
    """Hashed feature index → the training n-gram that most likely produced it, per label.

    Hashing keeps no vocabulary; for explanations we ship, per label, the few hundred n-grams
    with the largest weight towards that label (found at training time). At load time they
    become a dense (labels × features) strength matrix, so a whole batch is looked up at once.
    """

    def __init__(self, table: dict[str, dict[str, str]], labels: tuple[str, ...], weights: np.ndarray) -> None:
        self.strength = np.zeros((len(labels), weights.shape[0]), dtype=np.float32)
        self.terms: list[dict[int, str]] = []
        for li, lab in enumerate(labels):
            entries = {int(k): v for k, v in table.get(lab, {}).items()}
            idx = np.fromiter(entries, dtype=np.int64, count=len(entries))
            if len(idx):
                s = weights[idx, li] - weights[idx].mean(axis=1)
                self.strength[li, idx] = np.maximum(s, 1e-6)
            self.terms.append(entries)
        # Features with an entry for any label (a few thousand of 2^18): a one-byte-per-feature
        # test picks the few candidates of a batch before the float gather (cache-friendlier).
        self.known = (self.strength > 0).any(axis=0)

    def quote_batch(self, x: sparse.csr_matrix, top: np.ndarray, norm: list[str]) -> list[str]:
        """Per row, up to :data:`EVIDENCE_NGRAMS` known n-grams pushing towards its top label.

        A term is quoted only if it really occurs in the normalised text (a hash collision
        must not put words in the sender's mouth)."""
        n = x.shape[0]
        cand = np.flatnonzero(self.known[x.indices])  # positions in x.indices, in order
        row_of = np.searchsorted(x.indptr, cand, side="right") - 1
        cols = x.indices[cand]
        st = self.strength[top[row_of], cols]
        keep = np.flatnonzero(st > 0)
        quoted: list[list[str]] = [[] for _ in range(n)]
        if len(keep):
            r, c, s = row_of[keep], cols[keep], st[keep]
            order = np.lexsort((-s, r))
            terms, top_list = self.terms, top.tolist()  # plain ints: no numpy scalar per entry
            for ri, ci in zip(r[order].tolist(), c[order].tolist(), strict=True):
                q = quoted[ri]
                if len(q) < EVIDENCE_NGRAMS:
                    term = terms[top_list[ri]].get(ci)
                    if term is not None and term in norm[ri]:
                        q.append(term)
        return [", ".join(q) for q in quoted]
