"""Service configuration: environment variables `REACHGUARD_*`, an optional TOML file, defaults.

Precedence (highest first): explicit arguments (CLI flags) > environment > config file >
defaults. The config file is named by `REACHGUARD_CONFIG` (or `--config`); its keys are the
setting names without the prefix (`db_url = "…"`). Every setting is documented in docs/api.md.

Unsafe combinations are refused at load with a message that says what to change
(`ConfigError`): plain HTTP on a public address, a public verification endpoint without a
rate limit, secrets in files that other users can read, absurd body limits.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from reachguard.core.roles import ROLES  # noqa: F401 - re-exported (older imports name it here)
from reachguard.schema_errors import describe
from reachguard.store.base import is_postgres_url

MiB = 1 << 20

_config_file: ContextVar[Path | None] = ContextVar("reachguard_config_file", default=None)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says which setting and why."""


SIGNING_KEY_REQUIRED = (
    "signing_key_file is not set: on PostgreSQL every process would sign ledger checkpoints with a key held "
    "only in memory, and they would fail verification on the other replicas and after a restart. "
    "Set REACHGUARD_SIGNING_KEY_FILE (or signing_key_file in the config file) to one Ed25519 private key (PEM) "
    "shared by every replica; make one with: "
    "openssl genpkey -algorithm ed25519 -out ledger-signing-key.pem && chmod 600 ledger-signing-key.pem"
)
SIGNING_KEY_MISSING = (
    "signing_key_file {path} does not exist: on PostgreSQL it is not created on demand, since replicas "
    "on other hosts would each create a key of their own and sign checkpoints the others cannot verify. "
    "Make the key once and give every replica a copy: "
    "openssl genpkey -algorithm ed25519 -out ledger-signing-key.pem && chmod 600 ledger-signing-key.pem"
)


class _TomlFile(PydanticBaseSettingsSource):
    """The optional config file (TOML), below the environment in precedence."""

    def __init__(self, settings_cls: type[BaseSettings]):
        super().__init__(settings_cls)
        self.data: dict[str, Any] = {}
        path = _config_file.get()
        if path is None:
            env = os.environ.get("REACHGUARD_CONFIG")
            path = Path(env) if env else None
        if path is not None:
            try:
                self.data = tomllib.loads(Path(path).read_text("utf-8"))
            except OSError as exc:
                raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
            unknown = sorted(set(self.data) - set(settings_cls.model_fields))
            if unknown:
                raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class Settings(BaseSettings):
    """Every knob of `reachguard serve` (env `REACHGUARD_<NAME>`, or `name = …` in the file)."""

    model_config = SettingsConfigDict(env_prefix="REACHGUARD_", extra="forbid", validate_default=True)

    # --- storage ---
    db_url: str = Field("./reachguard.db", description="SQLite path, `sqlite:///path`, `:memory:` or a postgresql:// URL")
    redis_url: str | None = Field(None, description="redis://… for rate-limit counters shared by several processes and, with a postgresql:// db_url, the frequency counters (docs/deploy.md)")

    # --- listening ---
    host: str = Field("127.0.0.1", description="address to bind")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0: any free port)")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    ssl_certfile: Path | None = Field(None, description="TLS certificate (PEM); with ssl_keyfile, serve HTTPS")
    ssl_keyfile: Path | None = Field(None, description="TLS private key (PEM)")
    allow_plain_http: bool = Field(False, description="allow plain HTTP on a non-loopback address (behind a TLS proxy)")
    trust_forwarded_for: bool = Field(False, description="take the client address from X-Forwarded-For (behind a proxy)")

    # --- request limits ---
    max_body_bytes: int = Field(MiB, description="largest request body (bytes) except batches and imports")
    max_batch_body_bytes: int = Field(16 * MiB, description="largest body of POST /v1/decisions:batch")
    max_batch: int = Field(10_000, ge=1, le=100_000, description="most attempts in one batch")
    max_import_bytes: int = Field(1024 * MiB, description="largest bulk import (streamed)")

    # --- group commit ---
    group_wait_ms: float = Field(
        0.5, ge=0, le=100,
        description="how long the writer waits for concurrent decisions to join a group when fewer are queued than its "
                    "recent groups held (0: never; a lone caller waits only right after a burst); docs/deploy.md, Sizing",
    )

    # --- secrets and keys ---
    verification_secret_file: Path | None = Field(
        None, description="file holding the HMAC secret of verification codes (else generated and kept in the store)"
    )
    signing_key_file: Path | None = Field(
        None, description="Ed25519 private key (PEM) for ledger checkpoints; default `<db file>.signing-key.pem`"
    )
    key_cache_seconds: float = Field(2.0, ge=0, le=300, description="how long a looked-up API key is cached (revocation delay)")

    # --- rate limits ---
    verify_rate_limit: int = Field(30, ge=0, description="GET /v1/verify requests per client per minute")
    api_rate_limit: int = Field(0, ge=0, description="requests per API key per second (0: unlimited)")
    reputation_rate_limit: int = Field(60, ge=1, description="GET /v1/numbers/{number}/reputation requests per client per minute")
    report_rate_limit: int = Field(20, ge=1, description="POST /v1/reports per reporter (and per client) per hour")
    reporter_secret_file: Path | None = Field(
        None, description="HMAC secret for reporter ids (else generated and kept in the store); also read by the CLI from the env"
    )

    # --- policy ---
    profile: Literal["cn", "us"] = Field("cn", description="built-in policy profile")
    policy_file: Path | None = Field(None, description="TOML/YAML policy file (overrides profile)")
    shared_list_orgs: list[str] = Field(
        default_factory=list, description="orgs whose keys may write shared do-not-contact lists (e.g. `national`)"
    )

    # --- ledger ---
    checkpoint_interval_seconds: float = Field(60.0, ge=0, description="sign a checkpoint of every chain this often (0: off)")
    ledger_trusted_key_files: list[Path] = Field(
        default_factory=list,
        description="Ed25519 public keys (PEM files, as `reachguard audit public-key` prints) that ledger verification "
        "trusts besides the signing key's own: the keys of earlier signing keys after a rotation",
    )

    # --- web console and public pages (docs/console.md) ---
    console_session_hours: float = Field(8.0, gt=0, le=24 * 30, description="how long a console login lasts")
    login_rate_limit: int = Field(10, ge=1, description="console login attempts per client per minute")
    public_form_rate_limit: int = Field(5, ge=1, description="/public/report submissions per client per hour")
    complaint_ack_working_days: int = Field(3, ge=1, le=60, description="acknowledge a complaint within this many working days")
    complaint_resolve_working_days: int = Field(15, ge=1, le=120, description="resolve a complaint within this many working days")

    # --- logging ---
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")
    access_log: bool = Field(True, description="one JSON line per request")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFile(settings_cls)

    @field_validator("max_body_bytes", "max_batch_body_bytes")
    @classmethod
    def _sane_body(cls, value: int) -> int:
        if not 1024 <= value <= 256 * MiB:
            raise ValueError("must be between 1024 bytes and 256 MiB")
        return value

    @field_validator("max_import_bytes")
    @classmethod
    def _sane_import(cls, value: int) -> int:
        if not 1024 <= value <= 64 * 1024 * MiB:
            raise ValueError("must be between 1024 bytes and 64 GiB")
        return value

    @field_validator("db_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if not is_postgres_url(value):
            from reachguard.store.sqlite import sqlite_path

            sqlite_path(value)  # a malformed sqlite: URL is refused here, with the commands' message
        return value

    @model_validator(mode="after")
    def _safe(self) -> "Settings":
        if self.verify_rate_limit == 0:
            raise ValueError("verify_rate_limit = 0 would leave the public GET /v1/verify unlimited; set a limit per minute")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("set both ssl_certfile and ssl_keyfile, or neither")
        if self.ssl_certfile is None and not self.allow_plain_http and not _is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is not a loopback address: API keys would travel in clear text. "
                "Set ssl_certfile and ssl_keyfile, or allow_plain_http = true behind a TLS-terminating proxy"
            )
        if self.workers > 1 and self.is_memory_db:
            raise ValueError("workers > 1 needs a database file or server; :memory: is private to one process")
        for name in ("verification_secret_file", "signing_key_file", "ssl_keyfile", "reporter_secret_file"):
            path = getattr(self, name)
            if path is not None and path.exists():
                mode = path.stat().st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise ValueError(f"{name} {path} is readable by other users (mode {oct(mode & 0o777)}); chmod 600 it")
        for path in self.ledger_trusted_key_files:
            from reachguard.ledger.checkpoint import TrustedKeyError, load_public_key

            try:
                load_public_key(path)
            except TrustedKeyError as exc:
                raise ValueError(f"ledger_trusted_key_files: {exc}") from exc
        if self.verification_secret_file is not None:
            try:
                secret = self.verification_secret_file.read_bytes().strip()
            except OSError as exc:
                raise ValueError(f"cannot read verification_secret_file {self.verification_secret_file}: {exc.strerror}") from exc
            if len(secret) < 16:
                raise ValueError("verification_secret_file holds fewer than 16 bytes: too guessable")
        return self

    # --- derived ---

    @property
    def is_memory_db(self) -> bool:
        return self.db_url in (":memory:", "sqlite://", "sqlite:///:memory:")

    @property
    def is_sqlite(self) -> bool:
        return not is_postgres_url(self.db_url)

    def sqlite_file(self) -> Path | None:
        from reachguard.store.sqlite import sqlite_path

        if not self.is_sqlite or self.is_memory_db:
            return None
        return Path(sqlite_path(self.db_url))

    def signing_key_path(self) -> Path | None:
        """Where the checkpoint key lives (None: an in-memory store keeps an in-memory key)."""
        if self.signing_key_file is not None:
            return self.signing_key_file
        db = self.sqlite_file()
        return db.with_name(db.name + ".signing-key.pem") if db is not None else None

    def require_durable_signing_key(self) -> None:
        """Refuse (ConfigError) to sign checkpoints with a key that dies with the process.

        Why: on PostgreSQL without `signing_key_file` each process would sign with a key kept in
        memory; verification trusts only pinned keys, so those checkpoints fail it on every other
        replica and after a restart. Nor is a named file that does not exist made on demand there:
        on hosts that share no file system each replica would make its own. Called by whatever
        signs: `serve`, the service, `audit checkpoint|export|public-key|anchor`. SQLite files
        keep their key beside the database (made on first use)."""
        if self.is_sqlite:
            return
        if self.signing_key_file is None:
            raise ConfigError(SIGNING_KEY_REQUIRED)
        if not self.signing_key_file.exists():
            raise ConfigError(SIGNING_KEY_MISSING.format(path=self.signing_key_file))

    def ledger_trusted_keys(self) -> list:
        """The public keys of `ledger_trusted_key_files` (checked readable at load)."""
        from reachguard.ledger.checkpoint import load_public_key

        return [load_public_key(path) for path in self.ledger_trusted_key_files]

    def verification_secret(self) -> bytes | None:
        if self.verification_secret_file is None:
            return None
        return self.verification_secret_file.read_bytes().strip()


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from flags (`overrides`, None values ignored) > env > config file > defaults."""
    token = _config_file.set(Path(config_file) if config_file else None)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {describe(exc, 'settings')}") from None
    finally:
        _config_file.reset(token)
