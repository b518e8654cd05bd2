"""Health, readiness, metrics, request ids, JSON logs, OpenAPI completeness, keys CLI."""

from __future__ import annotations

import io
import json
import logging

from typer.testing import CliRunner

from apikit import Api, attempt
from reachguard.api import logs
from reachguard.cli import app


def test_health_ready_and_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}
    api.consent()
    api.decide()
    api.decide(at="2026-11-23T23:00:00+08:00")
    api.event({"type": "opt_out", "to": "13900139000", "at": "2026-11-23T10:00:00+08:00"})
    text = api.client.get("/metrics").text
    for line in ('reachguard_decisions_total{verdict="allow"} 1.0', 'reachguard_decisions_total{verdict="defer"} 1.0',
                 'reachguard_decision_reasons_total{reason="QUIET_HOURS",verdict="defer"} 1.0',
                 'reachguard_opt_outs_total{source="event"} 1.0',
                 'reachguard_http_request_seconds_bucket{le="0.005",route="/v1/decisions"}'):
        assert line in text, line
    assert "reachguard_decide_seconds_count" in text


def test_readyz_fails_closed_when_the_writer_is_gone(api: Api) -> None:
    api.service.writer.stop()
    response = api.client.get("/readyz")
    assert response.status_code == 503 and response.json()["error"]["code"] == "UNAVAILABLE"


def test_request_id_is_echoed_or_made(api: Api) -> None:
    assert api.client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert made and " " not in made


def test_access_log_is_json_with_request_id(api: Api) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("reachguard.access")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    api.service.settings.access_log = True
    try:
        api.post("/v1/decisions", attempt(), headers={"X-Request-ID": "log-me"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"] == "log-me" and line["status"] == 200 and line["path"] == "/v1/decisions" and line["org"] == "acme"


def test_openapi_declares_every_body_and_answer(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    ops = spec["paths"]
    assert ops["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Attempt"}
    assert ops["/v1/decisions"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Decision")
    assert "Consent" in spec["components"]["schemas"] and "Error" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path in ("/v1/decisions:batch", "/v1/events", "/v1/inbound/sms", "/v1/numbers/{number}", "/v1/verify",
                 "/v1/import/consents", "/v1/import/lists/{list_name}", "/v1/ledger/export", "/healthz", "/readyz", "/metrics"):
        assert path in ops, path


def test_keys_cli(tmp_path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "k.db")
    created = runner.invoke(app, ["keys", "create", "--org", "acme", "--role", "auditor", "--label", "ext audit", "--db", db])
    assert created.exit_code == 0
    key = created.output.rstrip("\n").splitlines()[-1]
    assert key.startswith("rg_")
    key_id = key.split("_")[1]
    listed = runner.invoke(app, ["keys", "list", "--db", db]).output
    assert key_id in listed and "auditor" in listed and key not in listed
    assert runner.invoke(app, ["keys", "revoke", key_id, "--db", db]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", key_id, "--db", db]).exit_code == 1
    bad = runner.invoke(app, ["keys", "create", "--org", "acme", "--role", "root", "--db", db])
    assert bad.exit_code == 2
    for command in (["keys", "--help"], ["keys", "create", "--help"], ["serve", "--help"], ["audit", "verify", "--help"],
                    ["audit", "export", "--help"]):
        assert "Example" in runner.invoke(app, command).output, command
