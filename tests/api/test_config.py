"""Settings: environment, config file, flags; unsafe settings refused with a clear message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reachguard.core.config import ConfigError, load_settings


def test_defaults_env_file_and_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.db_url == "./reachguard.db" and (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.max_body_bytes == 1 << 20
    config = tmp_path / "rg.toml"
    config.write_text('db_url = "/data/rg.db"\nport = 9000\nverify_rate_limit = 10\n')
    monkeypatch.setenv("REACHGUARD_CONFIG", str(config))
    monkeypatch.setenv("REACHGUARD_PORT", "9100")
    settings = load_settings()
    assert (settings.db_url, settings.port, settings.verify_rate_limit) == ("/data/rg.db", 9100, 10)  # env beats file
    assert load_settings(port=9200).port == 9200  # flags beat env
    assert settings.signing_key_path() == Path("/data/rg.db.signing-key.pem")


@pytest.mark.parametrize(
    "values, words",
    [
        ({"host": "0.0.0.0"}, "clear text"),
        ({"verify_rate_limit": 0}, "unlimited"),
        ({"max_body_bytes": 10}, "max_body_bytes"),
        ({"workers": 2, "db_url": ":memory:"}, "private to one process"),
        ({"ssl_certfile": "/x.pem"}, "both"),
        ({"bogus": 1}, "bogus"),
        ({"group_wait_ms": -1}, "group_wait_ms"),
        ({"group_wait_ms": 1000}, "group_wait_ms"),
        ({"group_wait_ms": "soon"}, "group_wait_ms"),
    ],
)
def test_unsafe_or_wrong_settings_are_refused(values: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings(**values)


def test_public_host_is_allowed_behind_a_proxy() -> None:
    assert load_settings(host="0.0.0.0", allow_plain_http=True).host == "0.0.0.0"


def test_secret_files_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(os.urandom(32).hex().encode())
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_settings(verification_secret_file=str(secret))
    secret.chmod(0o600)
    assert len(load_settings(verification_secret_file=str(secret)).verification_secret()) == 64
    short = tmp_path / "short"
    short.write_bytes(b"abc")
    short.chmod(0o600)
    with pytest.raises(ConfigError, match="16 bytes"):
        load_settings(verification_secret_file=str(short))


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("port = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config)
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(config)


def test_group_wait_reaches_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """serve's group_wait_ms (default 0.5 ms, env REACHGUARD_GROUP_WAIT_MS) is the writer's wait, in seconds,
    also after a restart of the service."""
    from reachguard.api.service import Service

    assert load_settings().group_wait_ms == 0.5
    monkeypatch.setenv("REACHGUARD_GROUP_WAIT_MS", "2")
    service = Service(load_settings(db_url=str(tmp_path / "rg.db")))
    try:
        assert service.writer.group_wait == pytest.approx(0.002)
        service.start()
        service.stop()
        service.start()
        assert service.writer.group_wait == pytest.approx(0.002)
    finally:
        service.stop()
        service.store.close()
