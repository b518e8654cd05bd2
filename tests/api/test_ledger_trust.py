"""GET /v1/ledger/verify trusts only the service's signing key (and ledger_trusted_key_files),
never a key someone added to the database's meta table."""

from __future__ import annotations

from apikit import Api
from ledgerkit import rewrite_and_resign


def test_api_verify_fails_the_attack_and_trusts_the_service_key(api: Api) -> None:
    api.consent("acme")
    api.service.signer.checkpoint_all()
    report = api.get("/v1/ledger/verify", "acme", "auditor").json()
    assert report["ok"] is True and report["checkpoints"] == 1, report
    kid = rewrite_and_resign(api.service.store, "acme")
    report = api.get("/v1/ledger/verify", "acme", "auditor").json()
    assert report["ok"] is False and report["broken_seq"] == 1, report
    assert report["problem"] == (f"checkpoint at seq 1 is signed by key {kid}, which is not a trusted key "
                                 "(the signing key, or ledger_trusted_key_files)")
