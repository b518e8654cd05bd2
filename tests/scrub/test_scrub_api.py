"""`POST /v1/scrubs` → job → progress → downloads (api/routes/scrubs.py, scrub/jobs.py)."""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from apikit import AT, NUMBER, Api, assert_error, make_api  # noqa: E402

LIST = "客户,手机号\n张三,138 0013 8000\n李四,13900139000\n王五,garbage\n张三,13800138000\n"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(db_url=str(tmp_path / "api.db"))


def upload(api: Api, body: str | bytes = LIST, role: str = "compliance", key_org: str = "acme", **fields: str):
    data = {"purpose": "marketing", "channel": "sms", "at": AT, **fields}
    files = {"file": ("campaign.csv", body.encode() if isinstance(body, str) else body, "text/csv")}
    return api.client.post("/v1/scrubs", data=data, files=files, headers=api.headers(key_org, role))


def wait(api: Api, job_id: str, org: str = "acme") -> dict:
    for _ in range(400):
        body = api.get(f"/v1/scrubs/{job_id}", org=org).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the scrub did not finish")


def test_upload_poll_and_download(api: Api) -> None:
    api.consent()
    response = upload(api)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running", "done") and response.headers["location"] == f"/v1/scrubs/{job['id']}"
    done = wait(api, job["id"])
    assert done["status"] == "done" and done["progress"] == 1.0
    report = done["report"]
    assert (report["rows"], report["allowed"], report["duplicates"], report["invalid_numbers"]) == (4, 1, 1, 1)
    allowed = api.get(f"/v1/scrubs/{job['id']}/allowed")
    assert allowed.status_code == 200 and allowed.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(allowed.text))) == [{"客户": "张三", "手机号": "138 0013 8000"}]
    rejected = list(csv.DictReader(io.StringIO(api.get(f"/v1/scrubs/{job['id']}/rejected").text)))
    assert [r["reasons"] for r in rejected] == ["NO_CONSENT", "INVALID_NUMBER", "DUPLICATE"]
    # another org sees nothing; an auditor may not scrub
    assert_error(api.get(f"/v1/scrubs/{job['id']}", org="xinghe"), 404, "NOT_FOUND")
    assert_error(api.get(f"/v1/scrubs/{job['id']}/allowed", org="xinghe"), 404, "NOT_FOUND")
    assert_error(upload(api, role="auditor"), 403, "FORBIDDEN")


def test_reserve_through_the_api_counts_contacts(api: Api) -> None:
    api.consent()
    first = wait(api, upload(api, reserve="true").json()["id"])
    assert first["report"]["reserved"] == 1
    decision = api.decide()
    assert decision["verdict"] == "defer" and [r["code"] for r in decision["reasons"]] == ["FREQUENCY_CAP"]


def test_bad_uploads(api: Api) -> None:
    assert_error(upload(api, at="2026-11-23T10:00:00"), 422, "TIME_WITHOUT_OFFSET")
    assert_error(upload(api, purpose="spam"), 422, "INVALID_FIELD")
    assert_error(upload(api, colour="red"), 422, "UNKNOWN_FIELD")
    assert_error(upload(api, org="xinghe"), 403, "ORG_MISMATCH")
    no_file = api.client.post("/v1/scrubs", data={"purpose": "marketing", "channel": "sms", "at": AT},
                              files={"x": ("", b"", "text/plain")}, headers=api.headers("acme", "compliance"))
    assert no_file.status_code == 422
    assert_error(api.post("/v1/scrubs", "phone\n1\n", role="compliance", headers={"content-type": "text/csv"}),
                 415, "UNSUPPORTED_MEDIA_TYPE")
    # an unusable list is a failed job with the scrub's own code; nothing to download
    failed = wait(api, upload(api, "phone,name\n13800138000,张三\n".encode("gb18030")).json()["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "INVALID_UTF8"
    assert_error(api.get(f"/v1/scrubs/{failed['id']}/allowed"), 409, "NOT_READY")
    missing = wait(api, upload(api, "name\nx\n").json()["id"])
    assert missing["error"]["code"] == "MISSING_COLUMN"
    for job in (failed, missing):  # the server's paths stay on the server
        assert job["error"]["message"].startswith("the uploaded list: ") and "/" not in job["error"]["message"], job
    assert_error(api.get("/v1/scrubs/nope"), 404, "NOT_FOUND")
    assert api.decide(to=NUMBER)["verdict"] == "deny"  # the service goes on


def test_the_uploaded_lists_are_deleted_when_the_app_stops(tmp_path: Path) -> None:
    """The lists hold phone numbers: the end of the app's lifespan (SIGTERM to `serve`) removes them."""
    import warnings

    with warnings.catch_warnings():  # as tests/web/webkit.py: starlette's httpx deprecation notice
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from reachguard.api.main import create_app
    from reachguard.core.config import load_settings
    from reachguard.core.keys import create_key

    app = create_app(load_settings(db_url=str(tmp_path / "api.db"), access_log=False, checkpoint_interval_seconds=0,
                                   log_level="warning"))
    key = create_key(app.state.service.store, "acme", "compliance")[1]
    try:
        with TestClient(app) as client:
            response = client.post("/v1/scrubs", data={"purpose": "marketing", "channel": "sms", "at": AT},
                                   files={"file": ("campaign.csv", LIST.encode(), "text/csv")},
                                   headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 202, response.text
            root = app.state.scrub_jobs.root
            assert (root / response.json()["id"] / "list.csv").is_file()
        assert not root.exists()
        with TestClient(app) as client:  # a new lifespan of the same app scrubs again (a fresh job queue)
            again = client.post("/v1/scrubs", data={"purpose": "marketing", "channel": "sms", "at": AT},
                                files={"file": ("campaign.csv", LIST.encode(), "text/csv")},
                                headers={"Authorization": f"Bearer {key}"})
            assert again.status_code == 202, again.text
            assert app.state.scrub_jobs.root != root
    finally:
        app.state.service.store.close()
