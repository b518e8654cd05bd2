"""The running service: store, gateway, the writer thread (group commit), keys, limits, signer.

Writes never run on the event loop. One writer thread owns them (more if the store asks, see
Writer): single decisions that arrive together are decided in one store transaction
(`Gateway.decide_many`, which judges them in order, each seeing the ones before it), so a
commit is shared by every request of the group — and each request is answered only after that commit, so an acknowledged
decision survives a crash of the process.

Its parts: writer.py (the writer), keyring.py (keys), ratelimit.py (limits), wal.py (WAL
checkpoints), failures.py (what is answered 503).
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from reachguard.api.failures import STORE_ERRORS, Unavailable  # noqa: F401  (re-exported)
from reachguard.api.keyring import KeyRing, Principal  # noqa: F401  (re-exported)
from reachguard.api.metrics import Metrics
from reachguard.api.ratelimit import RateLimiter
from reachguard.api.wal import _WalCheckpointer
from reachguard.api.writer import _CALL, _DECIDE, Writer, _Job, _resolve  # noqa: F401  (re-exported)
from reachguard.core.config import Settings
from reachguard.engine import Gateway
from reachguard.ledger.checkpoint import Signer, TrustedKeys
from reachguard.policy import PolicyBook, load_policy_file
from reachguard.store import Store, StoreUnavailable, open_store

log = logging.getLogger("reachguard.service")


class Service:
    """Everything a request needs, built once per app from the settings."""

    def __init__(self, settings: Settings, store: Store | None = None):
        settings.require_durable_signing_key()  # before any store is opened: nothing to undo
        self.settings = settings
        self.store = store if store is not None else open_store(settings.db_url, redis_url=settings.redis_url)
        self.policies = load_policy_file(settings.policy_file) if settings.policy_file else PolicyBook.profile(settings.profile)
        self.gateway = Gateway(self.store, self.policies, secret=settings.verification_secret())
        self.metrics = Metrics()
        self.writer = Writer(self.gateway, self.metrics, max_group=max(settings.max_batch, 1),
                             threads=getattr(self.store, "writer_threads", 1), group_wait=settings.group_wait_ms / 1000)
        self.keys = KeyRing(self.store, settings.key_cache_seconds)
        self.signer = Signer.open(self.store, settings.signing_key_path())
        # Ledger verification trusts only keys pinned outside the database (never the store's meta table).
        self.trusted_keys = TrustedKeys.of([self.signer.public, *settings.ledger_trusted_keys()],
                                           hint="the signing key, or ledger_trusted_key_files")
        self.verify_limiter = RateLimiter("verify", settings.verify_rate_limit, 60.0, settings.redis_url)
        self.api_limiter = RateLimiter("api", settings.api_rate_limit, 1.0, settings.redis_url)
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._wal: threading.Thread | None = None
        self.started = False

    def start(self) -> None:
        """Start the writer (and checkpoint) threads; after stop() it can start again."""
        if self.started:
            return
        if self.writer.used:
            self.writer = Writer(self.gateway, self.metrics, max_group=self.writer.max_group, threads=self.writer.threads,
                                 group_wait=self.writer.group_wait)
        self._stop = threading.Event()
        self.writer.start()
        self._wal = _WalCheckpointer.maybe(self.store, self._stop)
        if self.settings.checkpoint_interval_seconds > 0:
            self._checkpointer = threading.Thread(target=self._checkpoints, name="reachguard-checkpoints", daemon=True)
            self._checkpointer.start()
        self.started = True

    def stop(self) -> None:
        if not self.started:
            return
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(10)
        if self._wal is not None:
            self._wal.join(10)
        self.writer.stop()
        try:
            self.signer.checkpoint_all()
        except Exception:
            log.exception("final checkpoint failed")
        self.started = False

    def close(self) -> None:
        self.stop()
        self.store.close()

    def _checkpoints(self) -> None:
        while not self._stop.wait(self.settings.checkpoint_interval_seconds):
            try:
                made = self.signer.checkpoint_all()
                if made:
                    log.info("ledger checkpoints signed", extra={"orgs": len(made)})
            except Exception:
                log.exception("checkpoint failed")

    def ready(self) -> tuple[bool, str]:
        if not self.writer.alive:
            return False, "writer thread not running"
        try:
            self.store.get_meta("schema_version")
        except (sqlite3.Error, StoreUnavailable) as exc:
            return False, f"store: {exc}"
        return True, "ok"
