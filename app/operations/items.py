"""Creating an operation with its per-device items in one set-based insert."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import insert

from app.change_context import ChangeContext
from app.operations.models import Operation, OperationItem
from app.unit_of_work import UnitOfWork


async def add_operation(
    uow: UnitOfWork,
    context: ChangeContext,
    *,
    kind: str,
    rollout_id: uuid.UUID | None,
    category: str,
    changes: Sequence[tuple[str, str]],
    detail: dict[str, int],
) -> Operation:
    """A queued operation of `kind` with one item per (change, device id), in order.

    Nothing is sent to Graph here: the operation runner applies the items once the unit of
    work has committed.
    """
    operation = Operation(
        id=uuid.uuid4(),
        kind=kind,
        rollout_id=rollout_id,
        status="queued",
        total=len(changes),
        succeeded=0,
        failed=0,
        actor=context.actor,
        ticket=context.ticket,
        reason=context.reason,
        request_id=context.request_id,
        update_category=category,
        detail=detail,
    )
    uow.session.add(operation)
    await uow.session.flush()
    if changes:
        await uow.session.execute(
            insert(OperationItem),
            [
                {
                    "operation_id": operation.id,
                    "seq": seq,
                    "change": change,
                    "device_id": device_id,
                    "status": "pending",
                }
                for seq, (change, device_id) in enumerate(changes)
            ],
        )
    return operation
