"""`reachguard serve`: the HTTP API on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from reachguard.cli import app


@app.command()
def serve(
    db: Optional[str] = typer.Option(None, "--db", help="Store: a SQLite path, sqlite:///path, :memory: or postgresql://… (env REACHGUARD_DB_URL; default ./reachguard.db)."),
    host: Optional[str] = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", help="TCP port (default 8080)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (default 1)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML config file (env REACHGUARD_CONFIG); env variables override it, flags override both."),
) -> None:
    """Serve the ReachGuard HTTP API (decisions, events, imports, reads, verify, ledger, keys, metrics).

    Settings come from flags, REACHGUARD_* environment variables and an optional config file
    (docs/api.md lists them all). Unsafe settings are refused with the reason.

    Example: reachguard keys create --org acme --role sender --db rg.db && reachguard serve --db rg.db --port 8080
    """
    import os

    from reachguard.core.memory import small_pages_for_numpy

    small_pages_for_numpy()  # scrub jobs run in the API process too (core/memory.py: why)
    import uvicorn

    from reachguard.api import logs
    from reachguard.api.server import protocol_and_loop, tune_gc
    from reachguard.core.config import ConfigError, load_settings

    try:
        settings = load_settings(config, db_url=db, host=host, port=port, workers=workers)
        settings.require_durable_signing_key()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _load_signing_key(settings)
    logs.configure(settings.log_level)
    protocol, loop, _ = protocol_and_loop()
    common = dict(
        host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on",
        proxy_headers=settings.trust_forwarded_for, server_header=False, timeout_keep_alive=30,
        http=protocol, loop=loop,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
    )
    if settings.workers > 1:
        # Each worker builds its app from the environment: pass the resolved settings down.
        os.environ.update({f"REACHGUARD_{k.upper()}": str(v) for k, v in (("db_url", settings.db_url),)})
        if config is not None:
            os.environ["REACHGUARD_CONFIG"] = str(config)
        uvicorn.run("reachguard.api.main:app_from_env", factory=True, workers=settings.workers, **common)
        return
    from reachguard.api.main import create_app

    try:
        application = create_app(settings)
    except Exception as exc:  # a store or key file that cannot be opened
        typer.echo(f"error: cannot start: {exc}", err=True)
        raise typer.Exit(2) from exc
    tune_gc()
    try:
        uvicorn.run(application, **common)
    finally:
        application.state.service.close()


def _load_signing_key(settings: Any) -> None:
    """Read (or create) the checkpoint key before any worker starts: a bad key file is one error
    line and exit 2 here, not a traceback in each of N worker processes."""
    from reachguard.ledger.checkpoint import SigningKeyError, load_or_create_key

    path = settings.signing_key_path()
    if path is None:
        return
    try:
        load_or_create_key(path)
    except SigningKeyError as exc:
        typer.echo(f"error: cannot start: {exc}", err=True)
        raise typer.Exit(2) from exc
