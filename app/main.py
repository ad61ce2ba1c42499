"""The ASGI application: create_app() builds it, ``app`` is what uvicorn serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api.docs import install_docs
from app.api.error_handlers import install_error_handlers
from app.api.health import router as health_router
from app.api.middleware import RequestContextMiddleware
from app.db import create_engine, create_sessionmaker
from app.embedded_db import start_embedded_postgres
from app.logging_setup import configure_logging
from app.migrate import upgrade_to_head
from app.settings import Settings, get_settings
from app.state import AppState

log = logging.getLogger(__name__)

DESCRIPTION = """
Roll Windows updates out to the organisation's devices through Microsoft's Windows Autopatch
API (Microsoft Graph beta, `/admin/windows/updates`), without learning that API.

Every change is recorded in an audit log: who, when, which ticket, why, and what Graph answered.
Errors are RFC 9457 problem details (`application/problem+json`); branch on `type`.
Every response carries `X-Request-ID`; send your own to correlate logs, audit and Graph.
"""


def operation_id(route: APIRoute) -> str:
    """A stable operationId: the handler name in camelCase (list_rollouts → listRollouts)."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


async def _database_url(settings: Settings) -> tuple[str, bool]:
    if settings.database_url:
        return settings.database_url, False
    url = await asyncio.to_thread(start_embedded_postgres, settings.data_dir)
    return url, True


def build_lifespan(settings: Settings, simulator_state: Any = None) -> Any:
    """The lifespan: database (embedded + migrated when unset), Graph client, shared state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url, embedded = await _database_url(settings)
        if embedded:
            await asyncio.to_thread(upgrade_to_head, url)
        engine = create_engine(url)
        state = AppState(
            settings=settings,
            database_url=url,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
        )
        app.state.services = state
        log.info(
            "service started",
            extra={"graphMode": settings.graph_mode, "embeddedDatabase": embedded},
        )
        try:
            yield
        finally:
            await engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None, *, simulator_state: Any = None) -> FastAPI:
    """Build the service; tests pass their own settings and simulator state."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = FastAPI(
        title="autopatch-rollouts",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=build_lifespan(settings, simulator_state),
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    install_docs(app)
    app.include_router(health_router)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app


app = create_app()
