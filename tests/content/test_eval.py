"""The labelled evaluation set meets the quality targets (precision ≥ 0.95, recall ≥ 0.90)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "tests" / "data" / "review_eval.jsonl"


def _bench():
    spec = importlib.util.spec_from_file_location("review_eval", ROOT / "bench" / "review_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("review_eval", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_eval_set_is_large_and_covers_every_code() -> None:
    from reachguard.content.lexicon import codes

    items = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(items) >= 200
    assert len({i["id"] for i in items}) == len(items)
    covered = {code for i in items for code in i["expected"]}
    assert covered == set(codes())
    assert sum(1 for i in items if not i["expected"]) >= 80  # most real messages are clean
    assert {i["purpose"] for i in items} == {"marketing", "collection", "service"}
    assert {i["relation"] for i in items} >= {"borrower", "contact", "guarantor", "prospect"}


def test_eval_meets_targets() -> None:
    bench = _bench()
    report = bench.evaluate(EVAL)
    from reachguard.content.lexicon import codes

    for code in codes():
        assert report.support[code] >= 5, code
        assert report.precision(code) >= 0.95, (code, report.errors)
        assert report.recall(code) >= 0.90, (code, report.errors)
    assert report.clean_fp_rate <= 0.05, report.errors
