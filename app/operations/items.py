"""Creating an operation with its per-device items in one set-based insert."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from app.change_context import ChangeContext
from app.operations.models import Operation
from app.unit_of_work import UnitOfWork


async def add_operation(
    uow: UnitOfWork,
    context: ChangeContext,
    *,
    kind: str,
    rollout_id: uuid.UUID | None,
    category: str,
    changes: Sequence[tuple[str, str]],
    detail: dict[str, Any],
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
        # A change carried out on approval: the operation's events name the approver too.
        detail={**detail, **({"approval": approval} if (approval := context.approval()) else {})},
    )
    uow.session.add(operation)
    await uow.session.flush()
    if changes:
        # One statement and two array parameters, however many devices (set-based).
        await uow.session.execute(
            text(
                "INSERT INTO operation_items (operation_id, seq, change, device_id, status)"
                " SELECT :operation_id, item.seq - 1, item.change, item.device_id, 'pending'"
                " FROM unnest(CAST(:changes AS varchar[]), CAST(:devices AS varchar[]))"
                " WITH ORDINALITY AS item(change, device_id, seq)"
            ),
            {
                "operation_id": operation.id,
                "changes": [change for change, _ in changes],
                "devices": [device_id for _, device_id in changes],
            },
        )
    return operation
