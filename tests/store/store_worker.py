"""Run in child processes by the backend tests: many threads deciding on one shared database."""

from __future__ import annotations

import json
import random
import threading

from reachguard.engine import Gateway
from reachguard.events import decode_event

ORGS = ("acme", "xinghe")


def number(i: int) -> str:
    return f"+86139{i:08d}"


def open_backend(backend: str, pg_url: str, redis_url: str, prefix: str):
    if backend == "sqlite":  # pg_url: the file
        from reachguard.store import SQLiteStore

        return SQLiteStore(pg_url)
    if backend == "postgres":
        from reachguard.store.postgres import PostgresStore

        return PostgresStore(pg_url, chain_interval=0.2)
    from reachguard.store.redis_counters import PostgresRedisStore

    return PostgresRedisStore(pg_url, redis_url, prefix=prefix, chain_interval=0.2)


def attempt(i: int, org: str, n: int, purpose: str, channel: str) -> object:
    event = {"type": "attempt", "id": f"p{i}", "org": org, "channel": channel, "purpose": purpose,
             "to": number(n), "at": "2026-11-23T10:00:00+08:00"}
    if purpose == "collection":
        event["subject"] = f"L{n}"
    return decode_event(json.dumps(event))


def seed(store, numbers: int) -> None:
    gateway = Gateway(store, secret=b"test")
    for org in ORGS:
        for n in range(numbers):
            gateway.handle(decode_event(json.dumps({
                "type": "account", "org": org, "subject": f"L{n}", "borrower": number(n), "days_past_due": 10,
                "at": "2026-11-01T10:00:00+08:00"})))
            gateway.handle(decode_event(json.dumps({
                "type": "consent", "org": org, "to": number(n), "purpose": "marketing", "at": "2026-11-01T10:00:00+08:00"})))


def hammer(backend: str, pg_url: str, redis_url: str, prefix: str, worker: int, threads: int, per_thread: int,
           numbers: int, batch_share: float = 0.25) -> list[tuple[str, str, str, str]]:
    """Each thread decides `per_thread` attempts (singles and small batches) on random numbers;
    returns (org, number, purpose, verdict) for every decision."""
    store = open_backend(backend, pg_url, redis_url, prefix)
    gateway = Gateway(store, secret=b"test")
    out: list[tuple[str, str, str, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def work(t: int) -> None:
        rng = random.Random(worker * 1000 + t)
        events = []
        for k in range(per_thread):
            purpose = rng.choice(("collection", "collection", "marketing"))
            channel = "call" if purpose == "collection" else "sms"
            events.append(attempt(worker * 100000 + t * 1000 + k, rng.choice(ORGS), rng.randrange(numbers), purpose, channel))
        barrier.wait()
        mine = []
        k = 0
        while k < len(events):
            if rng.random() < batch_share:  # a batch: its locks are taken in one global order
                chunk = events[k:k + 4]
                decisions = gateway.decide_many(chunk)
            else:
                chunk = events[k:k + 1]
                decisions = [gateway.decide(chunk[0])]
            for event, decision in zip(chunk, decisions):
                mine.append((event.org, decision.to, event.purpose, decision.verdict))
            k += len(chunk)
        with lock:
            out.extend(mine)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    store.close()
    return out


CAPS = {"collection": 6, "marketing": 1}  # cn profile: collection calls per day; marketing contacts per day


def check_caps_and_ledger(store, verdicts: list[tuple[str, str, str, str]]) -> None:
    """No cap exceeded (and none under-used: the k-th asker of a number is allowed while k <= cap),
    every allowed attempt recorded exactly once, each org's ledger one verifiable chain holding
    every decision."""
    import collections

    from reachguard.ledger.verify import verify_chain

    asked = collections.Counter((o, n, p) for o, n, p, _ in verdicts)
    allowed = collections.Counter((o, n, p) for o, n, p, v in verdicts if v == "allow")
    for key, count in asked.items():
        assert allowed[key] == min(count, CAPS[key[2]]), key
    assert {v for *_, v in verdicts} <= {"allow", "defer"}
    with store.read() as conn:
        rows = conn.execute("SELECT org, number, purpose, count(*) FROM contacts GROUP BY 1, 2, 3").fetchall()
    assert {(o, n, p): c for o, n, p, c in rows} == dict(allowed)
    for org in ORGS:
        entries = list(store.ledger_entries(org))
        _, broken = verify_chain(entries)
        assert broken is None, broken
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        assert sum(1 for e in entries if e.kind == "decision") == sum(1 for o, *_ in verdicts if o == org)
