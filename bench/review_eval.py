"""Quality of the content review on the labelled evaluation set (tests/data/review_eval.jsonl).

Prints, per finding code, precision and recall over the set, and separately the false-positive
rate on the clean messages (those expected to have no finding at all: most real lender messages
are clean, so that rate is what senders feel). ``--show`` lists every disagreement.

    .venv/bin/python bench/review_eval.py [--show] [FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from reachguard.content import review
from reachguard.content.lexicon import codes

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "review_eval.jsonl"


@dataclass
class Report:
    """Counts per code, the clean-message false positives, and every disagreement."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    support: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    clean: int = 0
    clean_flagged: int = 0
    errors: list[tuple[str, list[str], list[str], str]] = field(default_factory=list)

    def precision(self, code: str) -> float:
        found = self.tp[code] + self.fp[code]
        return self.tp[code] / found if found else 1.0

    def recall(self, code: str) -> float:
        return self.tp[code] / self.support[code] if self.support[code] else 1.0

    @property
    def clean_fp_rate(self) -> float:
        return self.clean_flagged / self.clean if self.clean else 0.0


def evaluate(path: Path = DEFAULT) -> Report:
    report = Report()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            item = json.loads(line)
            expected = set(item["expected"])
            result = review(item["text"], item["purpose"], item["relation"], item.get("channel", "sms"))
            got = {f.code for f in result.findings}
            report.messages += 1
            for code in expected:
                report.support[code] += 1
            for code in got & expected:
                report.tp[code] += 1
            for code in got - expected:
                report.fp[code] += 1
            for code in expected - got:
                report.fn[code] += 1
            if not expected:
                report.clean += 1
                report.clean_flagged += bool(got)
            if got != expected:
                report.errors.append((item["id"], sorted(expected), sorted(got), item["text"]))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--show", action="store_true", help="list every message where review and label disagree")
    args = parser.parse_args()
    report = evaluate(args.file)
    print(f"{report.messages} messages, {report.clean} clean ({args.file})")
    print(f"{'code':<26}{'support':>8}{'tp':>5}{'fp':>5}{'fn':>5}{'precision':>11}{'recall':>8}")
    for code in codes():
        print(
            f"{code:<26}{report.support[code]:>8}{report.tp[code]:>5}{report.fp[code]:>5}{report.fn[code]:>5}"
            f"{report.precision(code):>11.3f}{report.recall(code):>8.3f}"
        )
    print(f"false-positive rate on clean messages: {report.clean_flagged}/{report.clean} = {report.clean_fp_rate:.3f}")
    if args.show:
        for item_id, expected, got, text in report.errors:
            print(f"{item_id}: expected {expected} got {got}\n    {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
