"""Operation rows → the public operation resource."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.operations.models import Operation, OperationItem
from app.operations.schemas import DeviceError, OperationOut
from app.problems import NotFound

MAX_LISTED_ERRORS = 1000


class OperationNotFound(NotFound):
    type = "urn:problem:operation-not-found"
    title = "No such operation"


async def get_operation_or_404(session: AsyncSession, operation_id: str) -> Operation:
    """The operation, or a 404 problem."""
    try:
        key = uuid.UUID(operation_id)
    except ValueError:
        key = None
    operation = await session.get(Operation, key) if key else None
    if operation is None:
        raise OperationNotFound(f"No operation has the id {operation_id[:80]!r}.")
    return operation


async def operation_out(session: AsyncSession, operation: Operation) -> OperationOut:
    """The public view of an operation, with its first failed device changes."""
    failed = await session.execute(
        select(OperationItem)
        .where(OperationItem.operation_id == operation.id, OperationItem.status == "failed")
        .order_by(OperationItem.seq)
        .limit(MAX_LISTED_ERRORS)
    )
    return OperationOut(
        id=str(operation.id),
        kind=operation.kind,
        rolloutId=str(operation.rollout_id),
        status=operation.status,
        total=operation.total,
        succeeded=operation.succeeded,
        failed=operation.failed,
        errors=[
            DeviceError(
                deviceId=item.device_id,
                change=item.change,
                code=item.error_code or "unknown",
                message=item.error_message or "",
            )
            for item in failed.scalars()
        ],
        ticket=operation.ticket,
        actor=operation.actor,
        createdAt=operation.created_at,
        startedAt=operation.started_at,
        finishedAt=operation.finished_at,
    )
