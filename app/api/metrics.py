"""`GET /metrics`: the service's Prometheus metrics, for a scraper inside the cluster."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.exc import DBAPIError

from app.observability.work_metrics import DATABASE_UP, refresh_work_gauges

log = logging.getLogger(__name__)
router = APIRouter(tags=["service"])
REFRESH_TIMEOUT_SECONDS = 5.0


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {}}}
    },
)
async def metrics(request: Request) -> Response:
    """HTTP requests, Graph calls, retries, throttles and waits, token refreshes, commands,
    operations and jobs, audit events written. Labels never hold ids. No credentials needed:
    restrict who can reach it (the Helm chart's NetworkPolicy)."""
    services = request.app.state.services
    try:
        async with asyncio.timeout(REFRESH_TIMEOUT_SECONDS), services.sessionmaker() as session:
            await refresh_work_gauges(session)
        DATABASE_UP.set(1)
    except (DBAPIError, OSError, TimeoutError) as exc:
        # The process's own metrics still help most when the database is away.
        log.warning("metrics: the database could not be read: %s", type(exc).__name__)
        DATABASE_UP.set(0)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
