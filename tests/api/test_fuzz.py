"""Property-based fuzz of the served OpenAPI with schemathesis: no 500s, no answer outside its schema.

Bounded: a few examples per operation (REACHGUARD_FUZZ_EXAMPLES, default 12), no shrinking
deadline surprises. Runs against the real ASGI app with an admin-free key per call: the
role matching each operation, so bodies get past authentication into the decoders.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from apikit import ROLES, make_api

_gen = make_api(verify_rate_limit=1_000_000)
API = next(_gen)
for _org, _role in [(o, r) for o in ("acme",) for r in ROLES]:
    pass
schema = schemathesis.openapi.from_asgi("/openapi.json", API.app)
EXAMPLES = int(os.environ.get("REACHGUARD_FUZZ_EXAMPLES", "12"))

ROLE_FOR = {
    "/v1/decisions": {"POST": "sender", "GET": "auditor"},
    "/v1/decisions:batch": {"POST": "sender"},
    "/v1/events": {"POST": "compliance"},
    "/v1/inbound/sms": {"POST": "sender"},
    "/v1/keys": {"POST": "admin", "GET": "admin"},
    "/v1/keys/{key_id}": {"DELETE": "admin"},
}


def _role(path: str, method: str) -> str:
    if path.startswith("/v1/import"):
        return "compliance"
    if path.startswith("/v1/ledger"):
        return "auditor"
    if path.startswith("/v1/numbers") or path == "/v1/policy":
        return "compliance"
    return ROLE_FOR.get(path, {}).get(method.upper(), "sender")


def teardown_module() -> None:
    _gen.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_api_conforms(case) -> None:
    headers = API.headers("acme", _role(case.operation.path, case.operation.method))
    case.call_and_validate(
        headers=headers,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
