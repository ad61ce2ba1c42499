"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import get_app_state
from app.api.problems import problem_responses
from app.graph.errors import GraphError
from app.migrate import current_revisions, head_revisions
from app.problems import ProblemError

router = APIRouter(tags=["service"])
log = logging.getLogger(__name__)

CheckResult = Literal["ok", "failed"]


class Liveness(BaseModel):
    """The process is alive and serving."""

    status: Literal["alive"] = "alive"


class Readiness(BaseModel):
    """Every dependency the service needs answered."""

    status: Literal["ready"] = "ready"
    checks: dict[str, CheckResult]


class NotReady(ProblemError):
    type = "urn:problem:not-ready"
    title = "The service is not ready"
    status = 503


@router.get("/healthz", summary="Liveness")
async def healthz() -> Liveness:
    """Answers as long as the process serves requests; checks nothing else."""
    return Liveness()


@router.get(
    "/readyz",
    summary="Readiness",
    responses=problem_responses(503),
)
async def readyz(request: Request) -> Readiness:
    """Ready when the database answers, its schema is at the migrations' head, and a token for
    Microsoft Graph can be obtained (cached tokens are reused: this costs no call when warm)."""
    state = get_app_state(request)
    checks: dict[str, CheckResult] = {}
    reasons: list[str] = []
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await connection.run_sync(current_revisions)
        checks["database"] = "ok"
        expected = await asyncio.to_thread(head_revisions)
        checks["schema"] = "ok" if current == expected else "failed"
        if current != expected:
            reasons.append(
                f"schema at {sorted(current) or 'nothing'}, expected {sorted(expected)}:"
                " run `python -m app migrate`"
            )
    except Exception as exc:
        log.warning("readiness: database check failed: %s", exc)
        checks["database"] = "failed"
        checks["schema"] = "failed"
        reasons.append("the database could not be reached")
    try:
        await state.graph.ensure_token()
        checks["graph"] = "ok"
    except GraphError as exc:
        log.warning("readiness: no Graph token: %s", exc)
        checks["graph"] = "failed"
        reasons.append(f"no token for Microsoft Graph could be obtained ({exc.code})")
    if reasons:
        raise NotReady("; ".join(reasons), checks=checks)
    return Readiness(checks=checks)
