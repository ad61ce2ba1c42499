"""What an ended rollout (archived or deleted) leaves behind: the devices that stay held."""

from __future__ import annotations

from app.change_context import ChangeContext
from app.devices.managed import held_members_of
from app.devices.release import accept_release
from app.operations.models import Operation
from app.rollouts.models import Rollout
from app.rollouts.schemas import RolloutWarning
from app.unit_of_work import UnitOfWork


async def release_or_warn(
    uow: UnitOfWork, context: ChangeContext, rollout: Rollout, *, release: bool
) -> tuple[Operation | None, list[RolloutWarning]]:
    """Release the rollout's members that no active rollout of the category has (`release`),
    or warn how many stay held: enrolled, they receive no update of the category at all."""
    held = await held_members_of(uow, rollout)
    if not held:
        return None, []
    if release:
        operation = await accept_release(
            uow,
            context,
            category=rollout.update_kind,
            device_ids=held,
            rollout_id=rollout.id,
            field="releaseDevices",
        )
        return operation, []
    warning = RolloutWarning(
        code="devicesHeld",
        count=len(held),
        message=f"{len(held)} device(s) of this rollout stay enrolled for {rollout.update_kind}"
        " updates and are in no other active rollout of that category: they receive no"
        f" {rollout.update_kind} update at all until they join a rollout or are released"
        " (releaseDevices=true, or POST /v1/devices/release; GET"
        f" /v1/devices?held={rollout.update_kind} lists them).",
    )
    return None, [warning]
