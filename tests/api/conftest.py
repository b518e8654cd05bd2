"""API fixtures (helpers live in apikit.py: `conftest` is a module name tests/ uses too)."""

from __future__ import annotations

from typing import Iterator

import pytest

from apikit import Api, make_api


@pytest.fixture
def api() -> Iterator[Api]:
    yield from make_api()
