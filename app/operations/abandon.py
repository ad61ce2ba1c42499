"""Ending an operation whose device changes can never be sent."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update

from app.operations.models import Operation, OperationItem
from app.unit_of_work import UnitOfWork


async def abandon_operation(
    uow: UnitOfWork, operation: Operation, *, code: str, message: str, now: datetime
) -> None:
    """Mark every pending item failed with `code` and the operation failed (not committed)."""
    result = await uow.session.execute(
        update(OperationItem)
        .where(OperationItem.operation_id == operation.id, OperationItem.status == "pending")
        .values(status="failed", error_code=code, error_message=message)
    )
    operation.failed += int(getattr(result, "rowcount", 0) or 0)
    operation.status = "failed" if operation.succeeded == 0 else "partiallySucceeded"
    operation.finished_at = now


async def abandon_operations_of(uow: UnitOfWork, rollout_id: uuid.UUID, now: datetime) -> None:
    """End the unfinished operations of a rollout Graph never created: nothing was sent."""
    rows = await uow.session.execute(
        select(Operation)
        .where(Operation.rollout_id == rollout_id, Operation.status.in_(("queued", "running")))
        .order_by(Operation.created_at, Operation.id)
    )
    for operation in rows.scalars():
        await abandon_operation(
            uow,
            operation,
            code="notAttempted",
            message="not sent: Graph never created the rollout's deployment",
            now=now,
        )
