"""The unit of work of a change route, under change review: `?dryRun=true` carries the request out
in a transaction that is rolled back and answers its plan; a request `APPROVALS` names is carried
out the same way and kept as a change waiting for a second person (202)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from app.api.deps import AppStateDep
from app.api.security import authenticated
from app.request_context import current_request_id
from app.review.changes import propose
from app.review.dry_run import DryRun, Plan
from app.review.views import change_out, dry_run_out, plan_record
from app.state import AppState
from app.unit_of_work import UnitOfWork, committed

DRY_RUN = (
    "Check the request and answer what it would do — the Graph calls it would make and the"
    " audit events it would record — without writing anything or sending anything to Graph"
    " (200 with the plan)"
)
Devices = Callable[[Any], int]


class ReviewAnswer(Exception):
    """Ends a reviewed request with its own answer: a dry run's plan, or a proposed change."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__("answered by change review")
        self.response = response


def dry_run_response(plan: Plan | dict[str, Any], approval_required: bool = False) -> JSONResponse:
    """The 200 answer of a dry run."""
    record = plan if isinstance(plan, dict) else plan_record(plan)
    answer = dry_run_out(record, approval_required=approval_required)
    return JSONResponse(answer.model_dump(mode="json"))


def no_devices(_: Any) -> int:
    return 0


def listed(*fields: str) -> Devices:
    """How many distinct devices a JSON body lists in `fields` (what `audience>N` counts)."""

    def count(body: Any) -> int:
        if not isinstance(body, dict):
            return 0
        ids = {i for f in fields if isinstance(body.get(f), list) for i in body[f]}
        return len({str(i).lower() for i in ids})

    return count


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _request_record(request: Request, body: Any) -> dict[str, Any]:
    query = {k: v for k, v in request.query_params.items() if k != "dryRun"}
    return {"method": request.method, "path": request.url.path, "query": query, "body": body}


def _said(request: Request, body: Any, name: str) -> str | None:
    """The request's `ticket` or `reason` (body, or query for DELETE)."""
    value = body.get(name) if isinstance(body, dict) else None
    value = value if isinstance(value, str) else request.query_params.get(name)
    return value.strip() or None if value else None


def reviewed(action: str, devices: Devices = no_devices) -> Any:
    """The unit-of-work dependency of a route whose change is `action` (APPROVALS' names; a
    route APPROVALS never holds names itself otherwise, such as "reject"):
    `uow: Annotated[UnitOfWork, reviewed("pause")]`."""

    async def unit_of_work(
        request: Request,
        state: AppStateDep,
        dryRun: Annotated[bool, Query(description=DRY_RUN)] = False,
    ) -> AsyncIterator[UnitOfWork]:
        caller = await authenticated(request)
        rules = state.settings.approval_rules
        body = await _json_body(request) if rules else None  # read again only when it counts
        approved = caller.change_id is not None  # carried out on approval: not held again
        held = not approved and rules.requires(action, devices(body))
        async with state.sessionmaker() as session:
            if not (dryRun or held):
                async with committed(session) as uow:
                    yield uow
                return
            dry_run = DryRun(
                state.graph.config, state.commands, state.settings.graph_max_ids_per_call
            )
            uow = UnitOfWork(session, dry_run)
            try:
                yield uow
                plan = plan_record(await dry_run.plan(uow))  # read before the rollback
            finally:
                await uow.rollback()
            if dryRun:
                raise ReviewAnswer(dry_run_response(plan, approval_required=held))
            raise ReviewAnswer(
                await _proposed(state, UnitOfWork(session), request, action, body, plan, devices)
            )

    unit_of_work.__name__ = f"reviewed_{action}"
    return Depends(unit_of_work, scope="function")


async def _proposed(
    state: AppState,
    uow: UnitOfWork,
    request: Request,
    action: str,
    body: Any,
    plan: dict[str, Any],
    devices: Devices,
) -> JSONResponse:
    """Keep the held request as a change waiting for approval; 202 with it."""
    rollout_id = request.path_params.get("rolloutId")
    change = await propose(
        uow,
        action=action,
        rollout_id=uuid.UUID(rollout_id) if rollout_id else None,
        request=_request_record(request, body),
        plan=plan,
        devices=devices(body),
        requester=await authenticated(request),
        ticket=_said(request, body, "ticket"),
        reason=_said(request, body, "reason"),
        request_id=current_request_id(),
        expires_at=state.clock() + state.settings.approval_ttl_delta,
    )
    await uow.commit()
    await uow.session.refresh(change)
    return JSONResponse(
        change_out(change).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/v1/changes/{change.id}"},
    )
