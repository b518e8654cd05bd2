"""The fold of a page of reports, set-based (numpy): the same bytes as ingest's per-report loop.

Why: the per-report Python loop (`ingest._loop`) cost ~10 µs per report and was most of a bulk
ingest's time. Here a page costs a few dozen numpy calls per *round* instead of a dozen Python
statements per report.

Why it gives exactly the loop's rows: the state a report changes splits into two independent parts.

* Per number — the votes blob, its label counts, and whether the report agreed or disagreed
  with the consensus — depends only on that number's earlier reports (log order).
* Per reporter — first/last report, count, burst counter and peak — depends only on that
  reporter's earlier reports; agreements / disagreements are integer sums of the per-number
  verdicts, so their order does not matter.

So round k applies the k-th report (in log order) of every number at once, then, separately,
the k-th report of every reporter. Every element goes through the same IEEE operations in the
same order as in the loop; the one transcendental, the burst decay `0.5 ** x`, is computed with
Python's float pow (C `pow`), not numpy's (which may use a SIMD pow that differs in the last bit).
Rounds are as many as the most reports one number (or reporter) has in the page: ~50 for the
bench's hot numbers, so the per-round overhead is negligible against a page of 10^5–10^6 reports.

The page (page.py) cannot be built when the integers could not match hashes exactly — two
reporters whose hashes share their first 8 bytes (never seen in practice; matching uses 64-bit
words), or a hash that is not 16 bytes — and `fold` returns None for a name that is not a label;
in both cases the caller runs the loop instead.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from reachguard.policy.schema import ReputationPolicy
from reachguard.reputation import votes
from reachguard.reputation.page import HASH, Page
from reachguard.reputation.votes import LABELS
from reachguard.reputation.weights import HOUR
from reachguard.store.base import AggregateRow, ReporterRow

VOTE = np.dtype([("h0", ">u8"), ("h1", ">u8"), ("label", "u1"), ("at", "<f8")])
"""votes.VOTE as a numpy record (hash as two big-endian words: their order is the bytes' order)."""
assert VOTE.itemsize == votes.SIZE and votes.VOTE.format == "<16sBd"

AGREE, DISAGREE = 1, 2


def fold(page: Page, aggregates: dict[str, tuple[bytes, int]], reporters: dict[bytes, ReporterRow],
         policy: ReputationPolicy) -> tuple[list[AggregateRow], list[ReporterRow]] | None:
    """The aggregate rows (in number order) and reporter rows (in hash order) after applying the
    page's reports in order to the stored `aggregates` and `reporters`; None for a name that is
    not a label (the loop raises for it, as it always did)."""
    if bool((page.label < 0).any()):
        return None
    by_number = Groups(page.num, len(page.numbers))
    by_reporter = Groups(page.rep, len(page.hashes))
    verdict = np.zeros(len(page), np.int8)
    aggregate_rows = _numbers(page, by_number, by_reporter, aggregates, policy, verdict)
    reporter_rows = _reporters(page, by_reporter, reporters, policy, verdict)
    return aggregate_rows, reporter_rows


def stable_order(keys: np.ndarray, size: int) -> np.ndarray:
    """`np.argsort(keys, kind="stable")` for keys in [0, size): the key and the position packed in
    one integer and sorted plainly (numpy's SIMD sort: ~10x faster than a stable argsort at 10 M)."""
    n = len(keys)
    bits = max(1, (n - 1).bit_length())
    if max(1, (size - 1).bit_length()) + bits > 63:
        return np.argsort(keys, kind="stable")
    packed = (keys.astype(np.int64) << bits) | np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((1 << bits) - 1)


class Groups:
    """The page's reports grouped by a dense key (every value in [0, size) occurs), each group in
    log order — the schedule of the rounds: round k is `order[base[:active[k]] + k]`, the k-th
    report of every group with more than k."""

    def __init__(self, keys: np.ndarray, size: int) -> None:
        self.order = stable_order(keys, size)
        self.size = np.bincount(keys, minlength=size)
        self.starts = np.cumsum(self.size) - self.size

    def rounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(base, active, by_count): groups largest first, so round k's groups are a prefix."""
        size = self.size
        small = size.astype(np.int16) if int(size.max()) < 2**15 else size  # 16-bit keys: numpy's radix sort
        by_count = np.argsort(-small, kind="stable")
        active = len(size) - np.cumsum(np.bincount(size))[:int(size.max())]  # groups with more than k reports
        return self.starts[by_count], active, by_count


def _numbers(page: Page, groups: Groups, by_reporter: Groups, aggregates: dict[str, tuple[bytes, int]],
             policy: ReputationPolicy, verdict: np.ndarray) -> list[AggregateRow]:
    page_numbers, num, rep, label, at = page.numbers, page.num, page.rep, page.label, page.at
    h0, h1 = page.words[:, 0], page.words[:, 1]
    U, R, L = len(page_numbers), len(h0), len(LABELS)
    # the stored aggregates of the page's numbers: headers into counts, votes into one record array
    counts = np.zeros((U, L), np.int64)
    reports = np.bincount(num, minlength=U)
    stored_n = np.zeros(U, np.int64)
    found = list(map(aggregates.get, page_numbers))
    held = np.array([i for i, got in enumerate(found) if got is not None], np.int64)
    sv = np.zeros(0, VOTE)
    if len(held):
        blobs, stored_reports = zip(*(got for got in found if got is not None))
        lengths = np.fromiter(map(len, blobs), np.int64, len(blobs))
        raw = np.frombuffer(b"".join(blobs), np.uint8)
        head_at = ((np.cumsum(lengths) - lengths)[:, None] + np.arange(votes.START)).ravel()
        counts[held] = raw[head_at].view("<u4").reshape(-1, L)
        reports[held] += np.array(stored_reports, np.int64)
        stored_n[held] = (lengths - votes.START) // votes.SIZE
        body = np.ones(len(raw), bool)
        body[head_at] = False
        sv = raw[body].view(VOTE)
    sv_num = np.repeat(np.arange(U), stored_n)
    distinct = stored_n.copy()

    # (number, reporter) pairs of the page; a pair's current vote starts as its stored vote, if any
    # (np.unique(num * R + rep, return_inverse=True), by two plain sorts: by reporter, then stably by number)
    pair_order = by_reporter.order[stable_order(num[by_reporter.order], U)]
    keys = num[pair_order] * R + rep[pair_order]
    head = np.empty(len(keys), bool)
    head[0] = True
    np.not_equal(keys[1:], keys[:-1], out=head[1:])
    pair_keys = keys[head]
    pair = np.empty(len(keys), np.int64)
    pair[pair_order] = np.cumsum(head) - 1
    P = len(pair_keys)
    of_pair = np.full(P, -1, np.int64)  # index into sv of the pair's stored vote
    if len(sv):
        at_rep = _search(h0, sv["h0"].astype(np.uint64))
        clipped = np.minimum(at_rep, R - 1)
        hit = np.nonzero((at_rep < R) & (h0[clipped] == sv["h0"]) & (h1[clipped] == sv["h1"]))[0]
        key = sv_num[hit] * R + clipped[hit]
        at_pair = np.minimum(np.searchsorted(pair_keys, key), P - 1)
        found = pair_keys[at_pair] == key
        of_pair[at_pair[found]] = hit[found]
    has_vote = of_pair >= 0
    slot = of_pair.copy()  # a new pair's place among its number's votes: after the stored ones, in order of first report
    added = np.zeros(U, np.int64)
    vote_label = np.zeros(P, np.int64)
    vote_at = np.zeros(P, np.float64)
    vote_label[has_vote] = sv["label"][of_pair[has_vote]]
    vote_at[has_vote] = sv["at"][of_pair[has_vote]]

    need, share = policy.consensus_min_reporters, policy.consensus_share
    order = groups.order
    base, active, _ = groups.rounds()
    for k, m in enumerate(active.tolist()):
        j = order[base[:m] + k]  # one report per number: fancy-index updates below never collide
        nm, pr, lb, a = num[j], pair[j], label[j], at[j]
        has = has_vote[pr]
        prev = vote_label[pr]
        others = distinct[nm] - has
        judged = np.nonzero(others >= need)[0]
        if len(judged):  # the consensus of the *other* reporters, as in the loop
            c = counts[nm[judged]]
            mine = np.nonzero(has[judged])[0]
            c[mine, prev[judged][mine]] -= 1
            top = c.max(axis=1)
            consensus = np.nonzero(top >= share * others[judged])[0]
            agrees = c[consensus, lb[judged][consensus]] == top[consensus]
            verdict[j[judged[consensus]]] = np.where(agrees, AGREE, DISAGREE)
        replace = np.nonzero(has & (a >= vote_at[pr]))[0]
        new = np.nonzero(~has)[0]
        if len(new):
            counts[nm[new], lb[new]] += 1
            distinct[nm[new]] += 1
            has_vote[pr[new]] = True
            slot[pr[new]] = stored_n[nm[new]] + added[nm[new]]
            added[nm[new]] += 1
        if len(replace):
            counts[nm[replace], prev[replace]] -= 1
            counts[nm[replace], lb[replace]] += 1
        changed = np.concatenate((new, replace))
        vote_label[pr[changed]] = lb[changed]
        vote_at[pr[changed]] = a[changed]

    # the blobs: stored votes in place (label and time updated), then new pairs in order of first report
    kept = np.nonzero(of_pair >= 0)[0]
    sv["label"][of_pair[kept]] = vote_label[kept]
    sv["at"][of_pair[kept]] = vote_at[kept]
    fresh = np.nonzero(of_pair < 0)[0]
    pair_num, pair_rep = pair_keys // R, pair_keys % R
    total = stored_n + added
    begins = np.cumsum(total) - total
    out = np.empty(int(total.sum()), VOTE)
    out[begins[sv_num] + np.arange(len(sv)) - np.repeat(np.cumsum(stored_n) - stored_n, stored_n)] = sv
    fresh_at = begins[pair_num[fresh]] + slot[fresh]
    out["h0"][fresh_at] = h0[pair_rep[fresh]]
    out["h1"][fresh_at] = h1[pair_rep[fresh]]
    out["label"][fresh_at] = vote_label[fresh]
    out["at"][fresh_at] = vote_at[fresh]
    # each number's blob: its header (the label counts) then its votes, as two slices of two buffers
    # (interleaving them in one numpy buffer took a mask over every byte: ~2x slower at 10 M reports)
    heads, body, width = counts.astype("<u4").tobytes(), out.tobytes(), votes.START
    ends = (np.cumsum(total) * votes.SIZE).tolist()
    rows: list[AggregateRow] = []
    append = rows.append
    start = head = 0
    for number, end, count in zip(page_numbers, ends, reports.tolist()):
        append((number, heads[head:head + width] + body[start:end], count))
        start, head = end, head + width
    return rows


def _reporters(page: Page, groups: Groups, reporters: dict[bytes, ReporterRow], policy: ReputationPolicy,
               verdict: np.ndarray) -> list[ReporterRow]:
    page_hashes, rep, at = page.hashes, page.rep, page.at
    R = len(page_hashes)
    order, starts, size = groups.order, groups.starts, groups.size
    base, active, by_count = groups.rounds()
    first_at = at[order[starts]]  # a new reporter starts as the loop's [h, at, at, 0, 0.0, at, 0.0, 0, 0]
    first, last, burst_at = first_at.copy(), first_at.copy(), first_at.copy()
    count, agree, disagree = np.zeros(R, np.int64), np.zeros(R, np.int64), np.zeros(R, np.int64)
    burst, peak = np.zeros(R), np.zeros(R)
    if reporters:
        hashes, f, la, c, b, bat, p, ag, dis = zip(*reporters.values())
        idx = _positions(page.words, hashes)
        if idx is None:  # a stored row that is not the page's, or not 16 bytes: look each one up
            known = [(i, reporters[h]) for i, h in enumerate(page_hashes) if h in reporters]
            idx = np.array([i for i, _ in known], np.int64)
            _, f, la, c, b, bat, p, ag, dis = zip(*(row for _, row in known)) if known else ((),) * 9
        first[idx], last[idx], count[idx] = f, la, c
        burst[idx], burst_at[idx], peak[idx] = b, bat, p
        agree[idx], disagree[idx] = ag, dis
    ordered = at[order]
    first = np.minimum(first, np.minimum.reduceat(ordered, starts))
    last = np.maximum(last, np.maximum.reduceat(ordered, starts))
    count += size
    agree += np.bincount(rep[verdict == AGREE], minlength=R)
    disagree += np.bincount(rep[verdict == DISAGREE], minlength=R)
    scale = policy.burst_half_life_hours * HOUR
    for k, m in enumerate(active.tolist()):  # the recent-report counter, a reporter's reports in log order
        g = by_count[:m]
        a = at[order[base[:m] + k]]
        b, since = burst[g], burst_at[g]
        later = np.nonzero(a > since)[0]
        if len(later):
            b[later] *= np.array([0.5 ** x for x in ((a[later] - since[later]) / scale).tolist()])
            burst_at[g[later]] = a[later]
        b += 1.0
        burst[g] = b
        peak[g] = np.maximum(peak[g], b)
    return list(zip(page_hashes, first.tolist(), last.tolist(), count.tolist(), burst.tolist(), burst_at.tolist(),
                    peak.tolist(), agree.tolist(), disagree.tolist()))


def _positions(words: np.ndarray, hashes: Sequence[bytes]) -> np.ndarray | None:
    """Where each of `hashes` is among the page's hash words (sorted); None if one is not there."""
    joined = b"".join(hashes)
    if len(joined) != HASH * len(hashes):
        return None
    asked = np.frombuffer(joined, ">u8").astype(np.uint64).reshape(-1, 2)
    at = _search(words[:, 0], asked[:, 0])
    clipped = np.minimum(at, len(words) - 1)
    there = (at < len(words)) & (words[clipped, 0] == asked[:, 0]) & (words[clipped, 1] == asked[:, 1])
    return at if bool(there.all()) else None


def _search(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """`np.searchsorted(keys, queries)`, the queries taken in key order: consecutive searches then
    share their path through `keys` (in random order each one missed the cache: seconds at millions)."""
    order = np.argsort(queries)
    at = np.empty(len(queries), np.int64)
    at[order] = np.searchsorted(keys, queries[order])
    return at
