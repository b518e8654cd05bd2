"""init_meta: the first value stored under a key wins, so processes starting together agree."""

from __future__ import annotations

from typing import Any

from reachguard.engine import Gateway


def test_init_meta_keeps_the_first_value(store: Any) -> None:
    assert store.init_meta("k", "first") == "first"
    assert store.init_meta("k", "second") == "first"
    assert store.get_meta("k") == "first"
    store.set_meta("k", "replaced")  # set_meta still overwrites on purpose
    assert store.init_meta("k", "third") == "replaced"


def test_gateways_that_both_saw_no_secret_end_up_with_the_same_one(store: Any, monkeypatch: Any) -> None:
    """Two server workers on a fresh store: both read "no secret" before either wrote one."""
    real_get, real_init = store.get_meta, store.init_meta
    racing = True  # outside init_meta, every read of the secret finds none, as for both workers at once

    def get_meta(key: str) -> str | None:
        return None if racing and key == "verification_secret" else real_get(key)

    def init_meta(key: str, value: str) -> str:
        nonlocal racing
        racing = False
        try:
            return real_init(key, value)
        finally:
            racing = True

    monkeypatch.setattr(store, "get_meta", get_meta)
    monkeypatch.setattr(store, "init_meta", init_meta)
    first, second = Gateway(store), Gateway(store)
    assert first._secret == second._secret
    racing = False
    assert Gateway(store)._secret == first._secret
