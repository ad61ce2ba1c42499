"""The ASGI application: create_app() builds it, ``app`` is what uvicorn serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.api import audience, audit, catalog, changes, devices, operations, rollouts
from app.api.docs import install_docs
from app.api.error_handlers import install_error_handlers
from app.api.health import router as health_router
from app.api.metrics import router as metrics_router
from app.api.middleware import RequestContextMiddleware
from app.api.openapi_doc import install_openapi
from app.auth.factory import build_authenticator
from app.catalog.service import CatalogService
from app.db import create_engine, create_reads_engine, create_sessionmaker
from app.embedded_db import start_embedded_postgres, stop_embedded_postgres
from app.graph.factory import API_CONCURRENCY, build_graph_client
from app.idempotency.middleware import IdempotencyMiddleware
from app.idempotency.store import IdempotencyStore
from app.jobs.queue import build_queue, opened
from app.jobs.wiring import WORKER_JOBS, command_executor, job_services, lease_seconds
from app.jobs.worker import InProcessWorker, build_worker
from app.logging_setup import configure_logging
from app.migrate import upgrade_to_head
from app.observability.graph_metrics import watch_graph_client
from app.observability.http_metrics import HttpMetricsMiddleware
from app.observability.tracing import configure_tracing
from app.operations.tracking import OperationTracker
from app.ratelimit.limiter import build_rate_limiter
from app.ratelimit.middleware import RateLimitHeadersMiddleware
from app.settings import Settings, get_settings
from app.simulator.app import create_simulator_app
from app.simulator.state import SimulatorState
from app.state import AppState, utc_now

log = logging.getLogger(__name__)

IDEMPOTENCY_LEASE_MARGIN = 60.0
"""A request holds its Idempotency-Key this much longer than a command's lease: a retry can
take a key over only once its first request cannot still be running."""

DESCRIPTION = """
Roll Windows updates out to the organisation's devices through Microsoft's Windows Autopatch
API (Microsoft Graph beta, `/admin/windows/updates`), without learning that API.

Every change is recorded in an audit log: who, when, which ticket, why, and what Graph answered.
Errors are RFC 9457 problem details (`application/problem+json`); branch on `type`.
Every response carries `X-Request-ID`; send your own to correlate logs, audit and Graph.
"""


OPENAPI_TAGS = [
    {"name": "catalog", "description": "The updates Graph can deploy."},
    {"name": "rollouts", "description": "A rollout is one Graph deployment plus its history."},
    {"name": "audience", "description": "Which devices a rollout reaches, and which it skips."},
    {
        "name": "operations",
        "description": "Work that continues after the request, run by workers from a durable"
        " queue and finished only once Graph shows the result.",
    },
    {
        "name": "devices",
        "description": "What Graph knows of one device; the devices the service holds, and"
        " releasing them.",
    },
    {"name": "audit", "description": "Every change made through the service."},
    {
        "name": "changes",
        "description": "Changes waiting for a second person's approval (APPROVALS), and what"
        " came of them. Every change route also takes `?dryRun=true`: the plan, nothing done.",
    },
    {"name": "service", "description": "Probes of the service itself."},
]


def operation_id(route: APIRoute) -> str:
    """A stable operationId: the handler name in camelCase (list_rollouts → listRollouts)."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


async def _database_url(settings: Settings) -> tuple[str, bool]:
    if settings.database_url:
        return settings.database_url, False
    url = await asyncio.to_thread(start_embedded_postgres, settings.data_dir)
    return url, True


def build_lifespan(
    settings: Settings, simulator_state: Any = None, clock: Callable[[], datetime] = utc_now
) -> Any:
    """The lifespan: database (embedded + migrated when unset), Graph client, shared state."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracing = configure_tracing(
            settings.otel_exporter_otlp_endpoint, settings.otel_service_name
        )
        url, embedded = await _database_url(settings)
        if embedded:
            await asyncio.to_thread(upgrade_to_head, url)
        engine = create_engine(url)
        reads = create_reads_engine(url)
        sessionmaker = create_sessionmaker(engine, reads)
        simulator_app = None
        if settings.graph_mode == "simulator":
            simulator_app = create_simulator_app(simulator_state or SimulatorState())
        graph, close_graph = build_graph_client(
            settings, simulator_app=simulator_app, concurrency=API_CONCURRENCY
        )
        watch_graph_client("api", graph.metrics)
        queue = build_queue(url)
        auth, close_auth = build_authenticator(settings)
        resources = contextlib.AsyncExitStack()
        await resources.enter_async_context(opened(queue, url))
        state = AppState(
            settings=settings,
            database_url=url,
            engine=engine,
            sessionmaker=sessionmaker,
            graph=graph,
            catalog=CatalogService(graph, ttl_seconds=settings.catalog_cache_seconds, clock=clock),
            queue=queue,
            operations=OperationTracker(sessionmaker),
            commands=command_executor(settings, sessionmaker, graph, queue, clock),
            rate_limiter=build_rate_limiter(settings, engine),
            auth=auth,
            idempotency=IdempotencyStore(
                sessionmaker, lease_seconds=lease_seconds(settings) + IDEMPOTENCY_LEASE_MARGIN
            ),
            simulator=simulator_app.state.simulator if simulator_app is not None else None,
            clock=clock,
        )
        app.state.services = state
        if not settings.caller_auth_configured:
            log.warning(
                "OPEN MODE: no caller authentication; every caller is 'anonymous' with role"
                " admin (Graph: %s). Never expose this service like this.",
                settings.graph_mode,
            )
        worker = None
        closers = [close_graph, close_auth]
        if settings.run_worker:
            # The worker's own client: GRAPH_CONCURRENCY calls in flight, its own back-off.
            worker_graph, close_worker_graph = build_graph_client(
                settings, simulator_app=simulator_app
            )
            closers.append(close_worker_graph)
            watch_graph_client("worker", worker_graph.metrics)
            services = job_services(settings, sessionmaker, worker_graph, queue, clock)
            state.jobs = services
            worker = InProcessWorker(
                lambda: build_worker(
                    queue, services, concurrency=WORKER_JOBS, install_signal_handlers=False
                ),
                services.stopping,
            )
            worker.start()
        log.info(
            "service started",
            extra={
                "graphMode": settings.graph_mode,
                "embeddedDatabase": embedded,
                "worker": settings.run_worker,
            },
        )
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await resources.aclose()
            for close in closers:
                await close()
            await engine.dispose()
            await reads.dispose()
            if tracing is not None:
                tracing.close()
            if embedded:
                # uvicorn re-raises SIGTERM after shutdown, so atexit hooks never run: stop it here.
                await asyncio.to_thread(stop_embedded_postgres, settings.data_dir)

    return lifespan


def create_app(
    settings: Settings | None = None,
    *,
    simulator_state: Any = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """Build the service; tests pass their own settings, simulator state and clock."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = FastAPI(
        title="autopatch-rollouts",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=build_lifespan(settings, simulator_state, clock),
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        openapi_tags=OPENAPI_TAGS,
    )
    install_error_handlers(app)
    install_docs(app)
    install_openapi(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    for router in (
        catalog.router,
        rollouts.router,
        audience.router,
        operations.router,
        devices.router,
        audit.router,
        changes.router,
    ):
        app.include_router(router)
    # The last added is the outermost: request ids, input hygiene and the body limit come first.
    app.add_middleware(IdempotencyMiddleware)
    # The RateLimit-* headers of the decision the role dependency made (app/ratelimit).
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    # Outermost: every request is counted and timed, whatever answered it.
    app.add_middleware(HttpMetricsMiddleware)
    return app


app = create_app()
