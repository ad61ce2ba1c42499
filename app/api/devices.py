"""Routes of /v1/devices: one device as Graph knows it, the devices the service holds, and
releasing them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from app.api.accepted import PreferHeader, accepted_operation, accepted_responses
from app.api.deps import AppStateDep, GraphDep, UowDep, change_context
from app.api.problems import problem_responses
from app.api.review import listed, reviewed
from app.api.security import READER, OperatorDep
from app.api_types import EntraDeviceId, Page
from app.devices.held import list_held
from app.devices.release import accept_release
from app.devices.schemas import DeviceOut, HeldDeviceOut, ReleaseRequest, UpdateCategory
from app.devices.service import read_device
from app.operations.queueing import queue_operation
from app.operations.schemas import OperationOut
from app.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from app.rollouts.service import check_ticket
from app.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/devices", tags=["devices"])
ReleaseUow = Annotated[UnitOfWork, reviewed("release", listed("devices"))]

RELEASE_EXAMPLE = {
    "release": {
        "summary": "Hand two devices back to their normal feature-update policies",
        "value": {
            "category": "feature",
            "devices": [
                "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01",
                "5d2c7e10-8a4b-4c3e-9f21-7b6a5c4d3e02",
            ],
            "ticket": "CHG0012450",
            "reason": "Pilot ended; back to the normal ring",
        },
    }
}


@router.get(
    "", dependencies=[READER], summary="List held devices", responses=problem_responses(400, 422)
)
async def list_held_devices(
    uow: UowDep,
    held: Annotated[
        UpdateCategory,
        Query(description="The update category: devices held for it are listed"),
    ],
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[HeldDeviceOut]:
    """The devices the service enrolled for `held`'s category that are in no active rollout of
    it, ordered by device id.

    A device enrolled in update management for a category receives updates of that category
    only through deployments: one that is in no active (not archived, not deleted) rollout gets
    nothing of that category at all. Each is listed with the rollout that last had it and when
    it stopped being in it. Release them with `POST /v1/devices/release`, or add them to a
    rollout.
    """
    items, next_cursor = await list_held(uow.session, held, limit=limit, cursor=cursor)
    return Page[HeldDeviceOut](items=items, nextCursor=next_cursor)


@router.post(
    "/release",
    status_code=202,
    summary="Release devices",
    responses=accepted_responses(400, 413, 422),
)
async def release_devices(
    body: Annotated[ReleaseRequest, Body(openapi_examples=RELEASE_EXAMPLE)],
    response: Response,
    state: AppStateDep,
    uow: ReleaseUow,
    caller: OperatorDep,
    prefer: PreferHeader = None,
) -> OperationOut:
    """Unenroll devices from update management for a category, so that Windows Update's normal
    policies apply to them again (an operation of kind `devices.release`).

    The devices are unenrolled in calls of at most `GRAPH_MAX_IDS_PER_CALL` ids; Graph also
    takes them out of every deployment audience of that category. A device that is a member of
    an active rollout of the category (or being added to one) is refused: 422
    `urn:problem:devices-in-active-rollout` lists each, and nothing is sent. The operation ends
    once Graph reports the devices unenrolled (`warnings` name those still unenrolling after
    `ENROLLMENT_CONFIRM_SECONDS`).
    """
    context = change_context(caller, body.ticket, body.reason)
    check_ticket(state.settings, context)
    operation = await accept_release(uow, context, category=body.category, device_ids=body.devices)
    await queue_operation(state.queue, uow, operation)
    await uow.commit()
    return await accepted_operation(state, uow, response, operation, prefer)


@router.get(
    "/{deviceId}",
    dependencies=[READER],
    summary="Get a device",
    responses=problem_responses(422, 502, 503, 504),
)
async def get_device(
    deviceId: Annotated[
        EntraDeviceId, Path(description="The Microsoft Entra device id (a GUID, any case)")
    ],
    graph: GraphDep,
    uow: UowDep,
) -> DeviceOut:
    """What Graph's deployment service knows of one device, read now, and our rollouts.

    `enrollment` gives the device's state in update management per category (`feature`,
    `quality`, `driver`): `notEnrolled`, `enrolling`, `enrolled`, `enrolledWithPolicy` or
    `unenrolling`. A device stuck in `enrolling` usually has a registration error: `errors`
    lists them (for example `invalidAzureADJoin`), each with a plain-language `hint` saying
    what to fix. `rollouts` are the rollouts of this service the device is a confirmed member
    or exclusion of.

    A device Graph does not know (it was never enrolled nor added to an audience) is not an
    error: the answer is 200 with `registered: false`, every category `notEnrolled`, no
    errors, and whatever rollouts this service recorded. An id that is not a GUID is 422 and
    Graph is not called. When Graph fails, the problem is 502, 503 or 504 with `graphError`
    and `graphRequestId`.
    """
    return await read_device(uow.session, graph, deviceId)
