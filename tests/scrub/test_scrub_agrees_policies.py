"""`scrub` and `decide` agree under the policies that take the features' rarer paths.

test_scrub_agrees covers the `cn` profile. Here, on the same store and lists: the `us` profile
(the recipient's time zones: each kept number's zone set is part of its signature, and numbers
with contacts go row by row), a policy with a per-subject cap (rows naming a subject go row by
row) and a cap that counts only one relation (the row's relation is part of its signature), and
signatures that do not determine the verdict (their rows are judged again one by one).
"""

from __future__ import annotations

import csv
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reachguard.engine import Gateway
from reachguard.policy import PolicyBook
from reachguard.policy import _profile_data  # the profile's own data, to derive a policy from
from reachguard.scrub import features, run_scrub
from reachguard.store import SQLiteStore

from test_scrub_agrees import build_store, expected_with, make_list, scrubbed


def _capped_book() -> PolicyBook:
    caps = [
        {"name": "per day", "per": "number", "days": 1, "max": 1},
        {"name": "per debt", "per": "subject", "days": 30, "max": 2},
        {"name": "prospects per month", "per": "number", "days": 30, "max": 2, "relations": ["prospect"]},
    ]
    return PolicyBook(_profile_data("cn"), {"acme": {"marketing": {"caps": caps}}})


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    base = tmp_path_factory.mktemp("scrub-policies") / "base.db"
    m, c = build_store(base)
    return base, m, c


def _answers(base: Path, tmp_path: Path, rows: list[dict[str, str]], at: str,
             book: PolicyBook | None = None) -> list[set[str]]:
    """decide's reason codes for each row, each on a fresh copy of the store."""
    def decide(index: int, event: Any) -> set[str]:
        copy = tmp_path / f"decide-{index}.db"
        shutil.copy(base, copy)
        store = SQLiteStore(str(copy))
        decision = Gateway(store, book or PolicyBook.profile("cn")).decide(event)
        store.close()
        copy.unlink()
        return {r.code for r in decision.reasons}

    return expected_with(decide, rows, "marketing", "sms", at)


def _agree(base: Path, tmp_path: Path, rows: list[dict[str, str]], book: PolicyBook, at: str) -> Any:
    want = _answers(base, tmp_path, rows, at, book)
    report = run_scrub(tmp_path / "list.csv", store=base, org="acme", purpose="marketing", channel="sms",
                       at=datetime.fromisoformat(at), out=tmp_path / "allowed.csv", policies=book)
    got, allowed = scrubbed(tmp_path, rows, want)
    assert [(row["phone"], g, w) for row, g, w in zip(rows, got, want) if g != w] == []
    assert report.allowed == allowed
    return report, want


@pytest.mark.parametrize("at", ["2026-11-23T10:00:00+08:00", "2026-11-23T23:30:00+08:00"])
def test_recipient_time_zones(state: tuple[Path, list[str], list[str]], tmp_path: Path, at: str) -> None:
    base, m, c = state
    rows = make_list(tmp_path / "list.csv", m, c, "marketing", seed=11)
    # the `us` profile with a marketing cap, so that stored contacts matter
    book = PolicyBook(_profile_data("us"), {"acme": {"marketing": {"caps": [
        {"name": "per month", "per": "number", "days": 30, "max": 2}]}}})
    report, want = _agree(base, tmp_path, rows, book, at)
    # New York and Shanghai: at 10:00 in Shanghai it is 21:00 in New York, at 23:30 it is 10:30
    quiet = {row["phone"]: "QUIET_HOURS" in codes for row, codes in zip(rows, want)}
    assert quiet["+1 212 555 0134"] is at.startswith("2026-11-23T10")
    assert quiet[next(row["phone"] for row in rows if row["name"] == "客户0")] is not quiet["+1 212 555 0134"]
    assert report.judged_set_wise > 0
    # under recipient zones every number with contacts (m[18]-m[22]) is judged row by row
    assert report.judged_row_by_row >= 5
    assert any("FREQUENCY_CAP" in codes for codes in want)


def test_subject_and_relation_caps(state: tuple[Path, list[str], list[str]], tmp_path: Path) -> None:
    base, m, c = state
    rows = make_list(tmp_path / "list.csv", m, c, "collection", seed=5)  # rows with subjects and relations
    for row in rows[::3]:
        row["subject"] = ""  # some rows name no debt: those stay set-wise
    _write(tmp_path / "list.csv", rows)
    report, want = _agree(base, tmp_path, rows, _capped_book(), "2026-11-23T10:00:00+08:00")
    settled = ("DUPLICATE", "INVALID_FIELD", "INVALID_NUMBER")
    naming = sum(1 for row, codes in zip(rows, want) if row["subject"] and not codes & set(settled))
    assert report.judged_row_by_row >= naming > 0 and report.judged_set_wise > 0
    assert any("FREQUENCY_CAP" in codes for codes in want)


def test_signatures_that_do_not_determine_the_verdict(state: tuple[Path, list[str], list[str]], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row given one signature: the two representatives disagree, so every row of it is
    judged one by one, and the answers are still decide's."""
    base, m, c = state
    real_build = features.build

    def one_signature(*args: Any, **kwargs: Any) -> features.Features:
        found = real_build(*args, **kwargs)
        found.sig = np.zeros_like(found.sig)
        return found

    monkeypatch.setattr(features, "build", one_signature)
    at = "2026-11-23T10:00:00+08:00"
    rows = make_list(tmp_path / "list.csv", m, c, "marketing", seed=7)
    # an allowed row first and a denied one last, so that the two representatives disagree
    first_answers = _answers(base, tmp_path, rows, at)
    allowed = next(i for i, codes in enumerate(first_answers) if not codes)
    denied = next(i for i, codes in enumerate(first_answers) if codes == {"NO_CONSENT"} and rows[i]["name"] == "客户35")
    rows = [rows[allowed]] + [row for i, row in enumerate(rows) if i not in (allowed, denied)] + [rows[denied]]
    _write(tmp_path / "list.csv", rows)
    report, _ = _agree(base, tmp_path, rows, PolicyBook.profile("cn"), at)
    assert any("did not determine" in note for note in report.notes)
    assert report.judged_set_wise == 0


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
