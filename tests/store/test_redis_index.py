"""The per-org index of the Redis counters (store/redis_index.py) and the scrub's read through it.

What must hold: FINISH keeps each org's index (newest contact per number); the scrub reads only
the org's keys with a contact in its window once the index is marked ready — never another
org's key, no SCAN — and finds exactly the members SCAN finds; until the index is ready (replicas
running older code write counters without it), after an eviction, or for a window reaching
before the index's trim, it SCANs as before.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from reachguard.scrub import redis_windows
from reachguard.scrub.redis_windows import RedisWindows
from reachguard.store.redis_index import READY, build, index_key, indexed_numbers

DAY = 86400.0
T = 1_795_000_000.0


def _write(counters: Any, org: str, number: str, at: float, *, subject: str | None = None) -> None:
    text = f"{at!r}|{number}|sms|marketing|prospect|{subject or ''}|tok{number}{at}"
    writes = {counters.number_key(org, number): ("", [(at, text)])}
    if subject is not None:
        writes[counters.subject_key(org, subject)] = ("", [(at, text)])
    counters.finish("t", [], writes, unlock=True)


def _index(counters: Any, org: str) -> dict[str, float]:
    return {m: s for m, s in counters.client.zrange(index_key(counters.prefix, org), 0, -1, withscores=True)}


@pytest.fixture
def counters(new_store: Any) -> Any:
    return new_store("postgres+redis").counters


def test_finish_keeps_the_newest_contact_of_each_number(counters: Any) -> None:
    _write(counters, "acme", "+8613800000001", T, subject="L1")
    _write(counters, "acme", "+8613800000002", T + 10)
    _write(counters, "acme", "+8613800000001", T - 5)  # an older contact does not lower it
    _write(counters, "o|ther", "+8613800000003", T)  # an org with "|": split at the last one
    assert _index(counters, "acme") == {"+8613800000001": T, "+8613800000002": T + 10}
    assert _index(counters, "o|ther") == {"+8613800000003": T}
    assert counters.client.pttl(index_key(counters.prefix, "acme")) > 0  # expires with the counters


def test_the_index_is_used_only_once_marked_ready(counters: Any) -> None:
    _write(counters, "acme", "+8613800000001", T)
    # an older replica's write: the counter without the index
    counters.client.zadd(counters.number_key("acme", "+8613800000009"), {f"{T!r}|+8613800000009|sms|marketing|prospect||old": T})
    assert indexed_numbers(counters, "acme", T - DAY) is None
    assert build(counters) == 2
    assert sorted(indexed_numbers(counters, "acme", T - DAY)) == ["+8613800000001", "+8613800000009"]
    assert indexed_numbers(counters, "acme", T + 1) == []  # only the windows that matter
    assert indexed_numbers(counters, "nobody", T - DAY) == []
    counters.client.set(counters.prefix + READY, "-1")  # Redis evicted keys since: not trusted
    assert indexed_numbers(counters, "acme", T - DAY) is None


def test_a_window_before_the_trim_falls_back(counters: Any) -> None:
    build(counters)
    _write(counters, "acme", "+8613800000001", T)
    _write(counters, "acme", "+8613800000002", T + 50 * DAY)  # retention 40 days: the first entry goes
    [sentinel] = [m for m, score in _index(counters, "acme").items() if score == float("-inf")]
    assert float(sentinel.removeprefix("h:")) == T + 10 * DAY
    assert "+8613800000001" not in _index(counters, "acme")
    assert indexed_numbers(counters, "acme", T + 9 * DAY) is None
    assert indexed_numbers(counters, "acme", T + 10 * DAY) == ["+8613800000002"]


def test_the_scrub_reads_only_the_orgs_keys_in_the_window_and_finds_what_scan_finds(
        counters: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(300):
        _write(counters, "other", f"+86139{i:08d}", T)
    for i in range(40):
        _write(counters, "acme", f"+86138{i:08d}", T - (i % 4) * DAY)  # 10 of them 3 days back
        _write(counters, "acme", f"+86138{i:08d}", T - 20 * DAY)
    since = T - 2.5 * DAY
    scanned = RedisWindows.read(counters, "acme", since)
    assert scanned.via == "scan" and len(scanned.names) == 40  # SCAN finds every key of the org
    build(counters)

    def no_scan(*_a: object, **_k: object) -> list[str]:
        raise AssertionError("SCAN while the index is ready")

    monkeypatch.setattr(redis_windows, "scan_names", no_scan)
    read = RedisWindows.read(counters, "acme", since)
    assert read.via == "index"
    assert len(read.names) == 30 and all(n.startswith(counters.number_key("acme", "")) for n in read.names)
    found = sorted((read.names[i], m) for i, m in read.items())
    assert found and found == sorted((scanned.names[i], m) for i, m in scanned.items())
    for name in scanned.names:
        assert read.members(name, since) == scanned.members(name, since)
        assert read.members(name, since + DAY) == scanned.members(name, since + DAY)


def test_cli_builds_the_index(new_store: Any, pg_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from reachguard.cli import app

    monkeypatch.delenv("REACHGUARD_REDIS_URL", raising=False)

    store = new_store("postgres+redis")
    _write(store.counters, "acme", "+8613800000001", T)
    url = redis_url + ("&" if "?" in redis_url else "?") + f"prefix={store.counters.prefix}"
    result = CliRunner().invoke(app, ["db", "redis-index", "--db", pg_url, "--redis", url])
    assert result.exit_code == 0, result.output
    assert "indexed 1 Redis counters" in result.output
    assert indexed_numbers(store.counters, "acme", T) == ["+8613800000001"]
    no_redis = CliRunner().invoke(app, ["db", "redis-index", "--db", pg_url])
    assert no_redis.exit_code == 2 and "PostgreSQL + Redis" in no_redis.output
