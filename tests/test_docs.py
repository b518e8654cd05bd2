"""The docs are checked against the code: every code the code can emit is documented, and the
README's examples still run and still say what the README claims."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

from reachguard import model
from reachguard.api.errors import ERROR_CODES
from reachguard.engine import Gateway
from reachguard.events import EventError, decode_event, iter_lines

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "reachguard"
CONTRACT = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(SRC.rglob("*.py")))


def test_every_reason_code_the_engine_emits_is_in_the_contract() -> None:
    codes = set(re.findall(r'(?:reason\(\w+, |Reason\()"([A-Z_]+)"', _source()))
    assert {"QUIET_HOURS", "FREQUENCY_CAP", "OPTED_OUT", "INVALID_NUMBER"} <= codes  # the scan works
    undocumented = {c for c in codes if f"`{c}`" not in CONTRACT}
    assert not undocumented, f"reason codes missing from docs/contract.md: {sorted(undocumented)}"


def test_every_event_error_code_is_in_the_contract() -> None:
    source = (SRC / "events.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'(?:EventError\(|return )"([A-Z_]+)"', source))
    assert {"MALFORMED_JSON", "UNKNOWN_FIELD", "TIME_WITHOUT_OFFSET"} <= codes
    undocumented = {c for c in codes if f"`{c}`" not in CONTRACT}
    assert not undocumented, f"error codes missing from docs/contract.md: {sorted(undocumented)}"


def test_every_event_type_is_in_the_contract() -> None:
    tags = {cls.__struct_config__.tag for cls in typing.get_args(model.Event)}
    assert {"attempt", "consent", "opt_out"} <= tags
    undocumented = {t for t in tags if f"`{t}`" not in CONTRACT}
    assert not undocumented, f"event types missing from docs/contract.md: {sorted(undocumented)}"


def test_every_http_error_code_is_in_the_api_doc() -> None:
    api_doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    undocumented = {c for c in ERROR_CODES if f"`{c}`" not in api_doc and f"`{c}`" not in CONTRACT}
    assert not undocumented, f"HTTP error codes missing from docs/api.md: {sorted(undocumented)}"


def test_readme_python_example_runs_and_allows() -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    code = block.group(1).replace("decision.verdict, decision.verification_code", "result = decision")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    decision = namespace["result"]
    assert decision.verdict == "allow" and decision.verification_code


def test_readme_replay_tour_matches_the_bundled_stream() -> None:
    """Each line of the README's replay output names the verdict and codes replay really gives."""
    tour = re.search(r"\$ \./scripts/run\.sh replay examples/events\.jsonl.*?\n(.*?)```", README, re.S)
    assert tour is not None
    claimed = [line for line in tour.group(1).splitlines() if line.startswith("{")]
    gateway = Gateway()
    actual: dict[str, dict[str, object]] = {}
    errors: list[str] = []
    with open(ROOT / "examples" / "events.jsonl", "rb") as stream:
        for _, line in iter_lines(stream):
            try:
                event = decode_event(line)
            except EventError as exc:
                errors.append(exc.code)
                continue
            result = gateway.handle(event)
            if result is not None:
                actual[result.id] = {"verdict": result.verdict, "codes": [r.code for r in result.reasons]}
    assert claimed
    for line in claimed:
        if line.startswith('{"error"'):
            code = re.search(r'"code":"([A-Z_]+)"', line)
            assert code and code.group(1) in errors
            continue
        ident = re.search(r'"id":"([^"]+)"', line).group(1)
        verdict = re.search(r'"verdict":"(\w+)"', line).group(1)
        assert actual[ident]["verdict"] == verdict, ident
        for code in re.findall(r'"code":"([A-Z_]+)"', line):
            if code in {"MISLEADING_LURE"}:  # a finding, not a reason
                continue
            assert code in actual[ident]["codes"], (ident, code)


def test_readme_event_bodies_are_valid_events() -> None:
    bodies = re.findall(r"-d '(\{.*?\})'", README)
    assert bodies
    for body in bodies:
        decode_event(json.dumps(json.loads(body)))
