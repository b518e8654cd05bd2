"""store.base.paged_ledger_range: the paging both SQL stores' ledger_range share."""

from __future__ import annotations

from reachguard.store.base import LEDGER_PAGE, paged_ledger_range


def _row(seq: int) -> tuple:
    return ("acme", seq, "decision", 0.0, None, "allow", "{}", "b", "p", "e")


def test_pages_through_a_range_longer_than_a_page() -> None:
    stored = [_row(seq) for seq in range(1, 2 * LEDGER_PAGE + 8)]
    starts: list[int] = []

    def fetch(start: int) -> list[tuple]:
        starts.append(start)
        return [r for r in stored if start <= r[1] <= 2 * LEDGER_PAGE + 3][:LEDGER_PAGE]

    entries = list(paged_ledger_range(fetch, 1, 2 * LEDGER_PAGE + 3))
    assert [e.seq for e in entries] == list(range(1, 2 * LEDGER_PAGE + 4))
    assert starts == [1, LEDGER_PAGE + 1, 2 * LEDGER_PAGE + 1]


def test_an_empty_or_inverted_range_reads_nothing() -> None:
    calls: list[int] = []
    assert list(paged_ledger_range(lambda start: calls.append(start) or [], 5, 4)) == []
    assert calls == []
