"""Routes of a rollout's audience: change it (an operation), list it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Response

from app.api.accepted import PreferHeader, accepted_operation, accepted_responses
from app.api.deps import AppStateDep, UowDep, change_context
from app.api.examples import AUDIENCE_CHANGE
from app.api.problems import problem_responses
from app.api.review import listed, reviewed
from app.api.rollouts import services_for
from app.api.security import READER, OperatorDep
from app.api_types import Page
from app.audience.schemas import AudienceChangeRequest, AudienceDeviceOut
from app.audience.service import accept_audience_change, list_devices
from app.operations.queueing import queue_operation
from app.operations.schemas import OperationOut
from app.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from app.rollouts import repository
from app.rollouts.lifecycle import ensure_actionable, refresh_state
from app.rollouts.service import check_ticket
from app.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/rollouts", tags=["audience"])
AudienceUow = Annotated[
    UnitOfWork,
    reviewed(
        "audience", listed("addDevices", "removeDevices", "addExclusions", "removeExclusions")
    ),
]


@router.post(
    "/{rolloutId}/audience",
    status_code=202,
    summary="Change a rollout's audience",
    responses=accepted_responses(400, 404, 409, 413, 422, 502, 503, 504),
)
async def change_audience(
    rolloutId: str,
    body: Annotated[AudienceChangeRequest, Body(openapi_examples=AUDIENCE_CHANGE)],
    response: Response,
    state: AppStateDep,
    uow: AudienceUow,
    caller: OperatorDep,
    prefer: PreferHeader = None,
) -> OperationOut:
    """Add or remove up to 100,000 members and exclusions in one request.

    The service enrolls added devices in update management for the rollout's category, then
    sends the changes to Graph in calls of at most `GRAPH_MAX_IDS_PER_CALL` ids, retrying what
    Graph throttles, and records the outcome per device. The answer is 202 with the operation
    (`Location: /v1/operations/{id}`); with `Prefer: wait=N` it is 200 with the finished
    operation if it finished within N seconds. A device cannot be both added and removed (422).
    Exclusion wins over membership.
    """
    context = change_context(caller, body.ticket, body.reason)
    services = services_for(state, uow)
    check_ticket(services, context)
    rollout = await repository.get_or_404(uow.session, rolloutId)
    await refresh_state(services, rollout)  # locks the row once Graph has answered
    ensure_actionable(rollout)
    operation = await accept_audience_change(
        uow,
        context,
        rollout,
        {
            "addMember": body.addDevices,
            "removeMember": body.removeDevices,
            "addExclusion": body.addExclusions,
            "removeExclusion": body.removeExclusions,
        },
    )
    await queue_operation(state.queue, uow, operation)
    await uow.commit()
    return await accepted_operation(state, uow, response, operation, prefer)


@router.get(
    "/{rolloutId}/devices",
    dependencies=[READER],
    summary="List a rollout's devices",
    responses=problem_responses(400, 404, 422),
)
async def list_rollout_devices(
    rolloutId: str,
    uow: UowDep,
    membership: Literal["member", "excluded"] | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[AudienceDeviceOut]:
    """The audience as the service last confirmed it: devices Graph accepted as members or
    exclusions (a device can be both; exclusion wins), ordered by membership and device id."""
    rollout = await repository.get_or_404(uow.session, rolloutId)
    rows, next_cursor = await list_devices(
        uow.session, rollout.id, membership=membership, limit=limit, cursor=cursor
    )
    return Page[AudienceDeviceOut](
        items=[
            AudienceDeviceOut(
                deviceId=r.device_id,
                membership=r.membership,
                confirmedAt=r.confirmed_at,
            )
            for r in rows
        ],
        nextCursor=next_cursor,
    )
