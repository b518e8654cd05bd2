"""The throughput changes keep the guarantees: the PostgreSQL + Redis store reads PostgreSQL
while ACQUIRE is in flight, and must not judge on that read if it then waited for the lock;
`reachguard serve` runs the writer threads the store asks for (`writers=N` on PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from reachguard.engine import Gateway
from reachguard.events import decode_event

NUMBER = "+8613900139077"


def _event(**fields) -> object:
    return decode_event(json.dumps(fields))


def _attempt(i: int):
    return _event(type="attempt", id=f"a{i}", org="acme", channel="sms", purpose="marketing", to=NUMBER,
                  at="2026-11-23T10:00:00+08:00")


def test_an_opt_out_committed_while_waiting_for_the_lock_is_seen(new_store) -> None:
    store = new_store("postgres+redis")
    gateway = Gateway(store, secret=b"t")
    gateway.handle(_event(type="consent", org="acme", to=NUMBER, purpose="marketing", at="2026-11-01T10:00:00+08:00"))
    assert gateway.decide(_attempt(0)).verdict == "allow"

    holding, release = threading.Event(), threading.Event()

    def holder() -> None:  # holds the number's Redis lock, as a slow decision on another replica
        from reachguard.store import StateQuery

        with store.transaction("acme", NUMBER):
            store.load_state(StateQuery("acme", NUMBER, "marketing", None, 0.0))
            holding.set()
            release.wait(10)

    first = threading.Thread(target=holder)
    first.start()
    assert holding.wait(10)
    result: list = []
    second = threading.Thread(target=lambda: result.append(gateway.decide(_attempt(1))))
    second.start()
    time.sleep(0.3)  # the second decision has read PostgreSQL and is waiting for the lock
    gateway.handle(_event(type="opt_out", org="acme", to=NUMBER, at="2026-11-22T10:00:00+08:00"))
    release.set()
    first.join(10)
    second.join(10)
    assert result and result[0].verdict == "deny"
    assert "OPTED_OUT" in {r.code for r in result[0].reasons}


def test_writers_url_parameter(pg_url: str) -> None:
    from reachguard.store.postgres import PostgresStore

    store = PostgresStore(pg_url + "&writers=2", chain_interval=0)
    assert store.writer_threads == 2
    store.close()
    assert PostgresStore(pg_url, chain_interval=0).writer_threads == 1
    for bad in ("0", "x", "99"):
        with pytest.raises(ValueError, match="writers="):
            PostgresStore(pg_url + f"&writers={bad}", chain_interval=0)


@pytest.mark.parametrize("backend, threads", [("sqlite", 1), ("postgres", 2), ("postgres+redis", 2)])
def test_serve_runs_the_stores_writer_threads(new_store, backend: str, threads: int) -> None:
    from reachguard.api.service import Writer
    from reachguard.api.metrics import Metrics

    store = new_store(backend)
    if backend != "sqlite":
        store.writer_threads = threads  # as `writers=2` in the URL
    assert getattr(store, "writer_threads", 1) == threads
    writer = Writer(Gateway(store, secret=b"t"), Metrics(), threads=getattr(store, "writer_threads", 1))
    writer.start()
    try:
        assert writer.alive and len(writer._threads) == threads
    finally:
        writer.stop()
    assert not writer.alive
