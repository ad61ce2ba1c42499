"""Ending an operation whose device changes can never be sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

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
