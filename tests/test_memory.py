"""core.memory: numpy's huge-page advice is turned off only where it can still take effect."""

from __future__ import annotations

import os
import subprocess
import sys

from reachguard.core import memory


def _numpy_huge_pages(env_value: str | None) -> str:
    """What numpy ends up using in a fresh interpreter that first calls small_pages_for_numpy."""
    env = {k: v for k, v in os.environ.items() if k != memory.NUMPY_HUGE_PAGES}
    if env_value is not None:
        env[memory.NUMPY_HUGE_PAGES] = env_value
    code = ("from reachguard.core.memory import small_pages_for_numpy; took = small_pages_for_numpy(); "
            "import numpy, os; from numpy._core.multiarray import _get_madvise_hugepage; "
            "print(took, os.environ['NUMPY_MADVISE_HUGEPAGE'], _get_madvise_hugepage())")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()


def test_off_by_default_before_numpy_is_imported() -> None:
    assert _numpy_huge_pages(None) == ["True", "0", "False"]


def test_the_operators_choice_stands() -> None:
    took, value, used = _numpy_huge_pages("1")
    assert (took, value, used) == ("True", "1", "True")


def test_too_late_once_numpy_is_imported(monkeypatch) -> None:
    import numpy  # noqa: F401  (this test process has numpy already)

    monkeypatch.delenv(memory.NUMPY_HUGE_PAGES, raising=False)
    assert memory.small_pages_for_numpy() is False


def test_paused_gc_restores_the_collector_as_it_found_it() -> None:
    import gc

    import pytest

    from reachguard.core.memory import paused_gc

    was = gc.isenabled()
    try:
        gc.enable()
        with pytest.raises(RuntimeError):
            with paused_gc():
                assert not gc.isenabled()
                raise RuntimeError("inside")
        assert gc.isenabled()
        gc.disable()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: left off
    finally:
        (gc.enable if was else gc.disable)()
