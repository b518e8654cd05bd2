"""`POST /v1/scrubs` on a service whose store is PostgreSQL, or PostgreSQL + Redis."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from apikit import Api, make_api  # noqa: E402

from test_scrub_agrees_pg import contacts  # noqa: E402
from test_scrub_api import LIST, upload, wait  # noqa: E402


@pytest.fixture(params=["postgres", "postgres+redis"])
def pg_api(request: pytest.FixtureRequest, new_store: Any, redis_url: str, signing_key_file: Path) -> Iterator[tuple[Api, Any]]:
    store = new_store(request.param)  # an emptied schema (and Redis prefix) of this test run
    settings: dict[str, Any] = {"db_url": store.url, "signing_key_file": signing_key_file}
    if store.uses_redis:
        settings["redis_url"] = f"{redis_url}?prefix={store.counters.prefix}"
    for api in make_api(**settings):
        yield api, store


def test_scrub_job_on_postgres(pg_api: tuple[Api, Any]) -> None:
    api, store = pg_api
    api.consent()
    before = contacts(store)
    done = wait(api, upload(api).json()["id"])
    assert done["status"] == "done", done
    report = done["report"]
    assert (report["rows"], report["allowed"], report["duplicates"], report["invalid_numbers"]) == (4, 1, 1, 1)
    allowed = list(csv.DictReader(io.StringIO(api.get(f"/v1/scrubs/{done['id']}/allowed").text)))
    assert allowed == [{"客户": "张三", "手机号": "138 0013 8000"}]
    rejected = list(csv.DictReader(io.StringIO(api.get(f"/v1/scrubs/{done['id']}/rejected").text)))
    assert [r["reasons"] for r in rejected] == ["NO_CONSENT", "INVALID_NUMBER", "DUPLICATE"]
    assert contacts(store) == before
    # once the number was contacted today (through the service), the next scrub finds the cap full
    assert api.decide()["verdict"] == "allow"
    again = wait(api, upload(api).json()["id"])
    assert again["report"]["allowed"] == 0 and again["report"]["reasons"].get("FREQUENCY_CAP") == 1


def test_reserve_job_fails_clearly_on_postgres(pg_api: tuple[Api, Any]) -> None:
    api, store = pg_api
    api.consent()
    before = contacts(store)
    failed = wait(api, upload(api, reserve="true").json()["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "INVALID_OPTION"
    assert "--reserve" in failed["error"]["message"] or "reserve" in failed["error"]["message"]
    assert contacts(store) == before
    assert api.decide()["verdict"] == "allow"  # nothing was reserved


def test_postgres_failing_mid_job_is_unavailable(pg_api: tuple[Api, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The job of a scrub whose PostgreSQL connection dies fails with UNAVAILABLE (the CLI's exit
    3), not INTERNAL; the service goes on and the next job works."""
    from test_scrub_cli_pg import fail_mid_scrub

    api, store = pg_api
    api.consent()
    assert fail_mid_scrub(monkeypatch, store, "kill") == []
    failed = wait(api, upload(api).json()["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "UNAVAILABLE", failed
    assert "PostgreSQL" in failed["error"]["message"]
    monkeypatch.undo()
    done = wait(api, upload(api).json()["id"])
    assert done["status"] == "done" and done["report"]["allowed"] == 1, done
