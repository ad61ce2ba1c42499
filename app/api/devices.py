"""Routes of /v1/devices: one device as Graph knows it, with the rollouts it is in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.api.deps import GraphDep, UowDep
from app.api.problems import problem_responses
from app.api_types import EntraDeviceId
from app.devices.schemas import DeviceOut
from app.devices.service import read_device

router = APIRouter(prefix="/v1/devices", tags=["devices"])


@router.get(
    "/{deviceId}",
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
