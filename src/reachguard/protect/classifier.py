"""Inbound SMS classifier: labels a message ``normal``, ``marketing``, ``collection`` or ``fraud``.

How a message is scored (rspamd-style: a statistical score plus named symbols):

1. :func:`~reachguard.protect.normalise.normalise` removes the corpus artefacts (digits → ``x``,
   whitespace collapsed, NFKC), so the model cannot learn "has a digit → normal".
2. Character 1–3-grams are hashed (``HashingVectorizer``: no vocabulary to ship, so the model
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
from sklearn.feature_extraction.text import HashingVectorizer

from reachguard.protect.normalise import fold, normalise_folded
from reachguard.protect.signals import LABELS, Signal, collect

MODEL_NAME = "sms_classifier"
"""Base name of the artefact pair in ``reachguard/data/models/``: ``.npz`` + ``.json``."""

FEATURE_PARAMS: dict[str, Any] = {
    "analyzer": "char",
    "ngram_range": (1, 3),
    "n_features": 2**18,
    "alternate_sign": False,
    "norm": "l2",
    "binary": True,
}
"""Vectoriser settings; stateless, so train and load only need to agree on these values."""

EVIDENCE_NGRAMS = 3
"""How many n-grams the ``TEXT_MODEL`` signal quotes as evidence."""


def make_vectoriser(params: dict[str, Any] | None = None) -> HashingVectorizer:
    """The hashing vectoriser for ``params`` (default :data:`FEATURE_PARAMS`)."""
    p = dict(FEATURE_PARAMS if params is None else params)
    p["ngram_range"] = tuple(p["ngram_range"])
    return HashingVectorizer(dtype=np.float32, **p)


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
        self._evidence = _EvidenceTable(meta.get("evidence_ngrams", {}), labels, self.weights.shape[0])

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
        """Normalised character n-gram features for ``texts``."""
        return self.vectoriser.transform([normalise_folded(fold(t)) for t in texts])

    def model_logits(self, x: sparse.csr_matrix) -> np.ndarray:
        """One logit per label from the linear model alone, shape (n, 4)."""
        return np.asarray(x @ self.weights) + self.intercept

    def classify(self, text: str) -> Classification:
        """Classify one message."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: list[str]) -> list[Classification]:
        """Classify a batch (vectorised model, per-message signals)."""
        folded = [fold(t) for t in texts]
        norm = [normalise_folded(f) for f in folded]
        x = self.vectoriser.transform(norm)
        logits = self.model_logits(x)
        out: list[Classification] = []
        for i, text in enumerate(texts):
            row_logits = logits[i]
            signals = collect(text, folded[i], self.use_content_review)
            total = row_logits.astype(np.float64)
            for s in signals:
                total[self.labels.index(s.label)] += s.weight
            probs = _softmax(total)
            label_i = int(np.argmax(probs))
            model_signal = self._model_signal(x, i, row_logits, norm[i])
            out.append(
                Classification(
                    label=self.labels[label_i],
                    scores={lab: float(p) for lab, p in zip(self.labels, probs, strict=True)},
                    signals=[model_signal, *signals],
                )
            )
        return out

    def _model_signal(self, x: sparse.csr_matrix, i: int, row_logits: np.ndarray, norm: str) -> Signal:
        """The model's vote as a signal: its top label, its margin over the runner-up, n-grams."""
        order = np.argsort(row_logits)[::-1]
        top, second = int(order[0]), int(order[1])
        margin = float(row_logits[top] - row_logits[second])
        start, end = x.indptr[i], x.indptr[i + 1]
        ngrams = self._evidence.quote(top, x.indices[start:end], self.weights, norm)
        return Signal("TEXT_MODEL", self.labels[top], round(margin, 3), ", ".join(ngrams), "model")


class _EvidenceTable:
    """Hashed feature index → the training n-gram that most likely produced it, per label.

    Hashing keeps no vocabulary; for explanations we ship, per label, the few hundred n-grams
    with the largest weight towards that label (found at training time), as a dense lookup.
    """

    def __init__(self, table: dict[str, dict[str, str]], labels: tuple[str, ...], n_features: int) -> None:
        self.terms: list[list[str]] = []
        self.lookup: list[np.ndarray] = []
        for lab in labels:
            entries = table.get(lab, {})
            arr = np.full(n_features, -1, dtype=np.int32)
            terms: list[str] = []
            for idx, term in entries.items():
                arr[int(idx)] = len(terms)
                terms.append(term)
            self.terms.append(terms)
            self.lookup.append(arr)

    def quote(self, label_i: int, indices: np.ndarray, weights: np.ndarray, norm: str) -> list[str]:
        """Up to :data:`EVIDENCE_NGRAMS` known n-grams of ``norm`` among ``indices``, strongest first.

        A term is quoted only if it really occurs in the normalised text (a hash collision
        must not put words in the sender's mouth)."""
        ids = self.lookup[label_i][indices]
        known = ids >= 0
        if not known.any():
            return []
        idx = indices[known]
        strength = weights[idx, label_i] - weights[idx].mean(axis=1)
        out: list[str] = []
        for j in idx[np.argsort(strength)[::-1]]:
            term = self.terms[label_i][self.lookup[label_i][j]]
            if term in norm:
                out.append(term)
                if len(out) == EVIDENCE_NGRAMS:
                    break
        return out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()
