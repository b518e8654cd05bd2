"""Web fixtures (helpers in webkit.py): a served ReachGuard with seeded data; a headless Chromium."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from webkit import CHROMIUM, Site, seed, serve


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from serve(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def seeded(site: Site) -> dict[str, Any]:
    return seed(site)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright. Missing browser = failure, never a skip: CI installs it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()
