"""Ended console sessions on every store: recorded by logout, dropped once their cookies are
too old to be accepted (so the table stays bounded)."""

from __future__ import annotations

from typing import Any, Callable

import pytest


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_ended_sessions_are_kept_until_their_cookies_are_too_old(backend: str, new_store: Callable[[str], Any]) -> None:
    store = new_store(backend)
    assert not store.console_session_ended("a" * 32)
    store.end_console_session("a" * 32, 200.0, 0.0)
    store.end_console_session("a" * 32, 200.0, 0.0)  # ended twice (two tabs): one record
    store.end_console_session("b" * 32, 120.0, 0.0)
    assert store.console_session_ended("a" * 32) and store.console_session_ended("b" * 32)
    store.end_console_session("c" * 32, 400.0, 130.0)  # cookies issued before 130 are refused by age: b goes
    assert not store.console_session_ended("b" * 32)
    assert store.console_session_ended("a" * 32) and store.console_session_ended("c" * 32)
    store.end_console_session("d" * 32, 500.0, 300.0)
    assert [store.console_session_ended(s * 32) for s in "abcd"] == [False, False, True, True]
