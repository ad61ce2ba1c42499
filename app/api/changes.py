"""Routes of /v1/changes: requests held for a second person's approval (APPROVALS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from app.api.deps import AppStateDep, UowDep
from app.api.problems import problem_responses
from app.api.review import DRY_RUN, reviewed
from app.api.security import READER, ApproverDep, OperatorDep
from app.api_types import Page
from app.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from app.request_context import current_request_id
from app.review import changes
from app.review.schemas import ChangeOut, ChangeStatus, RejectRequest
from app.review.views import change_out
from app.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/changes", tags=["changes"])

REJECT_EXAMPLE = {
    "reject": {
        "summary": "Reject a change",
        "value": {"reason": "Not during the quarter-end freeze; ask again on 2 January"},
    }
}


@router.get(
    "", dependencies=[READER], summary="List changes", responses=problem_responses(400, 422)
)
async def list_changes(
    uow: UowDep,
    status: Annotated[ChangeStatus | None, Query(description="only changes in this status")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[ChangeOut]:
    """Changes held for approval, newest first: `status=pendingApproval` lists those waiting."""
    rows, next_cursor = await changes.list_page(
        uow.session, status=status, limit=limit, cursor=cursor
    )
    return Page[ChangeOut](items=[change_out(c) for c in rows], nextCursor=next_cursor)


@router.get(
    "/{changeId}", dependencies=[READER], summary="Get a change", responses=problem_responses(404)
)
async def get_change(changeId: str, uow: UowDep) -> ChangeOut:
    """One change: the request as its requester sent it, the plan of what it does, who asked,
    who decided, and — once carried out — the answer the request got (`result`)."""
    return change_out(await changes.get_or_404(uow.session, changeId))


@router.post(
    "/{changeId}/approve",
    summary="Approve a change",
    response_class=Response,
    responses={
        200: {"description": "The change was carried out: the answer its request got"},
        201: {"description": "The change (a create) was carried out: the rollout"},
        202: {"description": "The change was carried out and continues as an operation"},
        **problem_responses(404, 409, 502, 503, 504),
    },
)
async def approve_change(
    changeId: str,
    request: Request,
    state: AppStateDep,
    caller: ApproverDep,
    dryRun: Annotated[bool, Query(description=DRY_RUN)] = False,
) -> Response:
    """Carry the change out as its requester asked, now: every check of the original request
    runs again against the current state, with the requester as the caller, and the answer is
    the one the original request would have had (201 with the rollout for a create, 202 with
    the operation for an audience change, …). The change keeps that answer as `result`, with
    `status: applied`.

    Needs role `approver` or `admin`, and someone other than the requester: 403
    `urn:problem:self-approval`. A change that no longer applies (the rollout was archived
    meanwhile, the update is no longer deployable, …) is 409
    `urn:problem:change-no-longer-applies` with the original problem as `cause`, and the change
    becomes `failed`. An expired or rejected change is 409. Approving an applied change again
    answers what it answered the first time and does nothing more. Every event the change
    records names the approver (`detail.approval`), beside the `change.approved` event.

    With `dryRun=true`: the same checks, then the request's dry run as it would run now (200
    with its plan, or the problem it would meet); nothing is recorded.
    """
    approvals = changes.Approvals(state.sessionmaker, state.clock)
    if dryRun:
        answer = await approvals.preview(request.app, changeId, caller, current_request_id())
    else:
        change, answer = await approvals.approve(
            request.app, changeId, caller, current_request_id()
        )
        if change.status == "failed":
            raise changes.refusal(change, answer)
    headers = {k: v for k, v in answer.headers if k.lower() in ("location", "retry-after")}
    media = answer.header("content-type") or "application/json"
    return Response(answer.body, status_code=answer.status, headers=headers, media_type=media)


@router.post(
    "/{changeId}/reject",
    summary="Reject a change",
    responses=problem_responses(400, 404, 409, 413, 415, 422),
)
async def reject_change(
    changeId: str,
    body: Annotated[RejectRequest, Body(openapi_examples=REJECT_EXAMPLE)],
    state: AppStateDep,
    uow: Annotated[UnitOfWork, reviewed("reject")],
    caller: OperatorDep,
) -> ChangeOut:
    """Reject a pending change: it will never be carried out. An approver or admin may reject
    any change; its requester may withdraw their own. The reason is kept on the change and in
    the audit log (`change.rejected`, naming who asked and who rejected)."""
    change = await changes.reject(uow, changeId, caller, body.reason, state.clock())
    return change_out(change)
