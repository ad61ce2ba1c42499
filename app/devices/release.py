"""Releasing devices: unenroll them from a category so Windows Update's normal policies apply."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.devices.managed import in_active_rollouts
from app.operations.items import add_operation
from app.operations.models import Operation
from app.problems import FieldError, ValidationFailed
from app.unit_of_work import UnitOfWork

MAX_LISTED = 1000


class DevicesInActiveRollout(ValidationFailed):
    type = "urn:problem:devices-in-active-rollout"
    title = "Some devices are members of an active rollout"


async def accept_release(
    uow: UnitOfWork,
    context: ChangeContext,
    *,
    category: str,
    device_ids: Sequence[str],
    rollout_id: uuid.UUID | None = None,
    field: str = "devices",
) -> Operation:
    """Record a `devices.release` operation (queued) and its audit intent.

    A device that is a member of an active rollout of the category (or is being added to one)
    is refused, and then nothing is recorded: unenrolling it would take it out of that rollout.
    """
    ids = list(dict.fromkeys(device_ids))
    busy = set(await in_active_rollouts(uow, category, ids))
    if busy:
        positions = [(i, d) for i, d in enumerate(device_ids) if d in busy]
        raise DevicesInActiveRollout(
            f"{len(busy)} device(s) are members of an active {category} rollout; releasing them"
            " would take them out of it. Remove them from that rollout first.",
            errors=[
                FieldError(
                    field=f"{field}[{index}]",
                    message=f"{device_id} is a member of an active {category} rollout",
                )
                for index, device_id in positions[:MAX_LISTED]
            ],
        )
    operation = await add_operation(
        uow,
        context,
        kind="devices.release",
        rollout_id=rollout_id,
        category=category,
        changes=[("unenroll", device_id) for device_id in ids],
        detail={"unenroll": len(ids)},
    )
    AuditRecorder(uow, context).record(
        action="devices.release",
        outcome="requested",
        rollout_id=rollout_id,
        operation_id=operation.id,
        device_ids=ids,
        detail={"operationId": str(operation.id), "updateCategory": category, **operation.detail},
    )
    return operation
