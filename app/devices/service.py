"""One device: Graph's view of it (enrollment, registration errors) and our rollouts."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audience.models import AudienceDevice
from app.devices.hints import hint_for
from app.devices.managed import effective_member
from app.devices.schemas import DeviceOut, DeviceRolloutOut, EnrollmentOut, RegistrationErrorOut
from app.graph.client import GraphClient
from app.graph.wire import AzureADDevice
from app.rollouts.models import Rollout
from app.rollouts.views import state_out

NOT_ENROLLED = "notEnrolled"


def _enrollment(device: AzureADDevice | None) -> EnrollmentOut:
    def state(category: str) -> str:
        found = device.enrollment_state(category) if device is not None else None
        return found or NOT_ENROLLED

    return EnrollmentOut(feature=state("feature"), quality=state("quality"), driver=state("driver"))


async def device_rollouts(session: AsyncSession, device_id: str) -> list[DeviceRolloutOut]:
    """The rollouts the device is a confirmed member or exclusion of, newest first."""
    query = (
        select(AudienceDevice.membership, Rollout)
        .join(Rollout, Rollout.id == AudienceDevice.rollout_id)
        .where(
            AudienceDevice.device_id == device_id,
            or_(AudienceDevice.membership == "excluded", effective_member(AudienceDevice)),
        )
        .order_by(Rollout.created_at.desc(), Rollout.id.desc(), AudienceDevice.membership)
    )
    return [
        DeviceRolloutOut(
            rolloutId=str(rollout.id),
            name=rollout.name,
            membership=membership,
            state=state_out(rollout).effective,
        )
        for membership, rollout in (await session.execute(query)).all()
    ]


async def read_device(session: AsyncSession, graph: GraphClient, device_id: str) -> DeviceOut:
    """What Graph knows of the device now, plus our rollouts; GraphError when Graph fails."""
    asset = (await graph.get_updatable_asset(device_id)).value
    device = asset if isinstance(asset, AzureADDevice) else None
    return DeviceOut(
        deviceId=device_id,
        registered=device is not None,
        enrollment=_enrollment(device),
        errors=[
            RegistrationErrorOut(reason=reason, hint=hint_for(reason))
            for reason in (device.error_reasons if device is not None else [])
        ],
        rollouts=await device_rollouts(session, device_id),
    )
