"""The FastAPI application: `create_app(settings)`.

Layout after fastapi/full-stack-fastapi-template: core/config.py (settings), api/deps.py
(auth), api/routes/ (one module per area), api/main.py (this factory).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reachguard import __version__
from reachguard.api import errors, logs, schemas
from reachguard.api.middleware import ServiceMiddleware
from reachguard.api.routes import decisions, events, health, imports, keys, ledger, numbers, verify
from reachguard.api.routes import scrubs
from reachguard.api.routes import classify, reputation
from reachguard.api.service import Service
from reachguard import web
from reachguard.core.config import Settings, load_settings
from reachguard.store.base import Store

DESCRIPTION = """ReachGuard: ask before every loan-marketing or collection contact.

Authenticate with `Authorization: Bearer KEY` (`reachguard keys create --org ORG --role ROLE`).
Roles: **sender** (decisions, events, inbound), **compliance** (events, imports, reads, policy),
**auditor** (reads, ledger), **admin** (keys). The org always comes from the key.
Every error is `{"error": {"code", "message", "details"}}`; see docs/api.md for the codes.
"""


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """The app for these settings. `store`: use this store instead of opening `settings.db_url`.

    The service (writer thread, checkpoints) starts with the app's lifespan, or on the first
    request when the app is driven without one (e.g. httpx's ASGITransport).
    """
    settings = settings if settings is not None else load_settings()
    logs.configure(settings.log_level)
    service = Service(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            scrubs.close_jobs(app)  # before the service stops: a running scrub may still reserve
            web = getattr(app.state, "web", None)
            if web is not None:
                web.jobs.close()  # the console's ledger exports (zip files in /tmp)
            service.stop()  # the store stays open: `reachguard serve` closes it when uvicorn returns

    app = FastAPI(
        title="ReachGuard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    errors.install(app)
    for module in (decisions, events, imports, numbers, verify, ledger, keys, health, scrubs, reputation, classify):
        app.include_router(module.router)
    web.install(app)  # the console (/console) and the public pages (/public): docs/console.md
    app.add_middleware(ServiceMiddleware, service=service)
    app.add_middleware(_StartOnFirstRequest, service=service)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            components.update(schemas.COMPONENTS)
            for path_item in spec.get("paths", {}).values():
                for operation in path_item.values():
                    responses = operation.get("responses", {})
                    default_422 = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
                    if default_422.get("$ref", "").endswith("/HTTPValidationError"):
                        responses["422"] = {"description": "Invalid request", "content": {"application/json": {"schema": schemas.ref("Error")}}}
                    if "parameters" in operation and "400" not in responses:
                        responses["400"] = schemas.errors(400)[400]
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


class _StartOnFirstRequest:
    """Start the service's threads if no lifespan did (test clients without lifespan)."""

    def __init__(self, app: Any, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if not self.service.started and scope["type"] == "http":
            self.service.start()
        await self.app(scope, receive, send)


def app_from_env() -> FastAPI:
    """For `uvicorn --factory reachguard.api.main:app_from_env` (settings from the environment).

    Used by `reachguard serve --workers N`: each worker process builds its app here.
    """
    from reachguard.api.server import tune_gc

    app = create_app(load_settings())
    tune_gc()
    return app
