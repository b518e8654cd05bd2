"""The PostgreSQL (+ Redis) hot path's shortcuts keep their promises: a thread gets its parked
connection back between transactions (and a dead one is replaced), Redis commands are framed
by bytes, a batch's contacts get distinct tokens, and a decision that records no contact gives
its Redis lock back while PostgreSQL commits."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.store.base import StoreUnavailable

NUMBER = "+8613900139088"


def _event(**fields) -> object:
    return decode_event(json.dumps(fields))


def _attempt(i: int, at: str = "2026-11-23T10:00:00+08:00"):
    return _event(type="attempt", id=f"h{i}", org="acme", channel="sms", purpose="marketing", to=NUMBER, at=at)


def _reference_pack(args: list) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


@pytest.mark.parametrize("args", [
    ["EVALSHA", "ab" * 20, 2, "rg:c:acme|+8613900139088", "tok", 10000, "1795000000.5"],
    ["SET", "rg:c:信和|+8613900139088", "1795000000.5|+86139|sms|collection|borrower|贷款-1|t1"],
    ["SET", b"raw\xe4\xb8\xad", 3.25, ""],
    [],
])
def test_redis_commands_are_framed_by_bytes(args: list) -> None:
    from reachguard.store.redis_scripts import _pack

    assert _pack(args) == _reference_pack(args)


def _backend_pid(store) -> int:
    with store.read() as conn:
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_a_thread_keeps_its_connection_between_transactions(new_store) -> None:
    store = new_store("postgres")
    gateway = Gateway(store, secret=b"t")
    gateway.decide(_attempt(0))
    first = _backend_pid(store)
    for i in range(1, 4):
        gateway.decide(_attempt(i))
        assert _backend_pid(store) == first  # parked, not handed back to the pool and out again
    assert 1 <= len(store._idle.fairies) <= store._idle.limit
    parked, out = len(store._idle.fairies), store.engine.pool.checkedout()
    store.close()
    assert store._idle.fairies == [] and store.engine.pool.checkedout() == out - parked  # back in the pool


def test_a_parked_connection_that_died_is_replaced(new_store, pg_url: str) -> None:
    store = new_store("postgres")
    gateway = Gateway(store, secret=b"t")
    gateway.decide(_attempt(0))
    dead = _backend_pid(store)
    with psycopg.connect(pg_url.split("?")[0], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dead,))
    answers = []
    for i in range(1, 4):  # the first may fail (closed connection, as from the pool), never more
        try:
            answers.append(gateway.decide(_attempt(i)).verdict)
        except StoreUnavailable:
            answers.append("unavailable")
    assert answers[1:] == ["deny", "deny"] and answers[0] in ("deny", "unavailable")
    assert _backend_pid(store) != dead


def test_a_batch_gives_each_contact_its_own_token(new_store) -> None:
    store = new_store("postgres+redis")
    gateway = Gateway(store, secret=b"t")
    gateway.handle(_event(type="consent", org="acme", to=NUMBER, purpose="marketing", at="2026-11-01T10:00:00+08:00"))
    verdicts = [d.verdict for d in gateway.decide_many([_attempt(1), _attempt(2, "2026-11-23T10:00:01+08:00")])]
    with store.read() as conn:
        tokens = [row[0] for row in conn.execute("SELECT token FROM contacts WHERE number = %s", (NUMBER,))]
    assert len(tokens) == verdicts.count("allow") >= 1 and len(set(tokens)) == len(tokens)
    members = store.counters.client.zrange(store.counters.number_key("acme", NUMBER), 0, -1)
    assert {m.rsplit("|", 1)[1] for m in members if not m.startswith("h:")} == set(tokens)


def test_a_decision_that_records_no_contact_releases_its_lock(new_store) -> None:
    store = new_store("postgres+redis")
    gateway = Gateway(store, secret=b"t")
    lock = store.counters.lock_of(store.counters.number_key("acme", NUMBER))
    decision = gateway.decide(_attempt(0))  # no consent: denied, nothing to append
    assert decision.verdict == "deny"
    assert not store.counters.client.exists(lock)
    assert [e.tag for e in store.ledger_entries("acme")] == ["deny"]  # committed
    assert [d.verdict for d in gateway.decide_many([_attempt(1), _attempt(2)])] == ["deny", "deny"]
    assert not store.counters.client.exists(lock)


class _Chunks:
    """A socket that hands out a reply a few bytes at a time (replies split across recv calls)."""

    def __init__(self, data: bytes, size: int):
        self.parts = [data[i:i + size] for i in range(0, len(data), size)]

    def recv(self, _: int) -> bytes:
        return self.parts.pop(0) if self.parts else b""


@pytest.mark.parametrize("size", [1, 3, 1 << 16])
def test_redis_replies_are_parsed_whole_however_they_arrive(size: int) -> None:
    import redis as redis_lib

    from reachguard.store.redis_scripts import _NoScript, _Wire

    text = "1795000000.5|+8613900139088|sms|collection|borrower|贷款-1|t1"
    raw = (b"*3\r\n:1\r\n$0\r\n\r\n*2\r\n$" + str(len(text.encode())).encode() + b"\r\n" + text.encode() + b"\r\n$-1\r\n"
           + b"+OK\r\n" + b"-NOSCRIPT No matching script\r\n" + b"*2\r\n:0\r\n-ERR inside\r\n" + b":7\r\n")
    wire = _Wire(None)
    wire.sock = _Chunks(raw, size)
    assert wire._read() == [1, "", [text, None]]
    assert wire._read() == "OK"
    with pytest.raises(_NoScript):
        wire._read()
    with pytest.raises(redis_lib.exceptions.ResponseError, match="inside"):
        wire._read()
    assert wire._read() == 7  # an error inside an array consumed the whole array
    with pytest.raises(EOFError):
        wire._read()


def test_a_transaction_without_contacts_commits_even_after_its_lease_ran_out(pg_url: str, redis_prefix: str,
                                                                             redis_url: str) -> None:
    """Nothing to append, so no cap can be exceeded: the lease check is FINISH's, for appends
    (a stalled transaction that records a contact still fails: test_backend_behaviour)."""
    from reachguard.store import StateQuery
    from reachguard.store.postgres import truncate_all
    from reachguard.store.redis_counters import PostgresRedisStore

    store = PostgresRedisStore(pg_url, redis_url, prefix=redis_prefix + "nolease:", lock_ttl=0.2, chain_interval=0)
    truncate_all(store)
    try:
        with store.transaction("acme", NUMBER):
            store.load_state(StateQuery("acme", NUMBER, "marketing", None, 0.0))
            time.sleep(0.4)
            store.ledger_append([("acme", "decision", 1795000000.0, NUMBER, "deny", b'{"x":1}')])
        assert [e.tag for e in store.ledger_entries("acme")] == ["deny"]
        assert not store.counters.client.exists(store.counters.lock_of(store.counters.number_key("acme", NUMBER)))
    finally:
        store.counters.clear()
        store.close()


def test_a_reply_that_fails_to_decode_does_not_answer_the_next_command(redis_url: str, redis_prefix: str) -> None:
    """A bulk string that is not UTF-8 raises, and the connection is dropped: the next command
    gets its own reply, not the one left in the buffer."""
    import redis as redis_lib

    from reachguard.store.redis_scripts import _Wire

    client = redis_lib.Redis.from_url(redis_url)
    key = redis_prefix + "not-utf8"
    client.set(key, b"\xff\xfe")
    wire = _Wire(client.connection_pool)
    try:
        with pytest.raises(UnicodeDecodeError):
            wire.call(["GET", key])
        assert wire.call(["ECHO", "next"]) == "next"
    finally:
        wire.drop()
        client.delete(key)


def test_an_interrupted_release_aborts_the_transaction(pg_url: str, redis_prefix: str, redis_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """If sending RELEASE raises something unexpected, the PostgreSQL transaction is rolled back
    and the thread's next transaction does not commit its writes."""
    from reachguard.store import StateQuery
    from reachguard.store.postgres import truncate_all
    from reachguard.store.redis_counters import PostgresRedisStore

    store = PostgresRedisStore(pg_url, redis_url, prefix=redis_prefix + "interrupt:", chain_interval=0)
    truncate_all(store)
    real_send = store.counters.release_send

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    try:
        monkeypatch.setattr(store.counters, "release_send", interrupted)
        with pytest.raises(KeyboardInterrupt):
            with store.transaction("acme", NUMBER):
                store.load_state(StateQuery("acme", NUMBER, "marketing", None, 0.0))
                store.ledger_append([("acme", "decision", 1795000000.0, NUMBER, "deny", b'{"x":1}')])
        monkeypatch.setattr(store.counters, "release_send", real_send)
        with store.transaction("acme", NUMBER):
            store.load_state(StateQuery("acme", NUMBER, "marketing", None, 0.0))
            store.ledger_append([("acme", "decision", 1795000001.0, NUMBER, "deny", b'{"x":2}')])
        assert [e.body for e in store.ledger_entries("acme")] == ['{"x":2}']
    finally:
        store.counters.clear()
        store.close()


def test_a_denied_decision_releases_its_lock_after_the_script_cache_was_flushed(new_store) -> None:
    """A restarted (or flushed) Redis has no scripts: ACQUIRE reloads its own, and RELEASE,
    sent while PostgreSQL commits, must too — not leave the lock to expire, which stalled the
    next decision for the number a whole lease (10 s)."""
    store = new_store("postgres+redis")
    gateway = Gateway(store, secret=b"t")
    lock = store.counters.lock_of(store.counters.number_key("acme", NUMBER))
    store.counters.client.script_flush()
    assert gateway.decide(_attempt(0)).verdict == "deny"  # no consent: nothing to append
    assert not store.counters.client.exists(lock)
    store.counters.client.script_flush()
    assert [d.verdict for d in gateway.decide_many([_attempt(1), _attempt(2)])] == ["deny", "deny"]
    assert not store.counters.client.exists(lock)
    assert [e.tag for e in store.ledger_entries("acme")] == ["deny"] * 3


def test_a_release_that_meets_an_empty_script_cache_still_releases(new_store, monkeypatch) -> None:
    """The flush lands between ACQUIRE (which loaded the scripts) and the RELEASE sent while
    PostgreSQL commits: the NOSCRIPT answer there must load and release, not be swallowed."""
    store = new_store("postgres+redis")
    gateway = Gateway(store, secret=b"t")
    counters = store.counters
    lock = counters.lock_of(counters.number_key("acme", NUMBER))
    send = counters.release_send
    flushed: list[bool] = []

    def flush_then_send(token, locks):
        counters.client.script_flush()
        flushed.append(True)
        return send(token, locks)

    monkeypatch.setattr(counters, "release_send", flush_then_send)
    assert gateway.decide(_attempt(0)).verdict == "deny"
    assert flushed and not counters.client.exists(lock)
    assert [e.tag for e in store.ledger_entries("acme")] == ["deny"]


def test_a_script_missing_twice_is_redis_unavailable(new_store, monkeypatch) -> None:
    """NOSCRIPT again after loading (a flush in between, a proxy that loses scripts) is reported
    like any Redis failure — StoreUnavailable, the PostgreSQL transaction rolled back — never
    an internal exception that skips the rollback."""
    store = new_store("postgres+redis")
    gateway = Gateway(store, secret=b"t")
    counters = store.counters
    monkeypatch.setitem(counters._scripts, "acquire", ("0" * 40, "return 1"))  # SCRIPT LOAD gives another sha
    with pytest.raises(StoreUnavailable):
        gateway.decide(_attempt(0))
    monkeypatch.undo()
    assert gateway.decide(_attempt(1)).verdict == "deny"  # the session is usable again
    assert [e.tag for e in store.ledger_entries("acme")] == ["deny"]
