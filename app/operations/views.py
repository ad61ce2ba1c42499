"""Operation rows → the public operation resource."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.devices.hints import HINTS
from app.operations.models import Operation, OperationItem
from app.operations.schemas import DeviceError, DeviceWarning, OperationOut
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


async def _listed(session: AsyncSession, operation_id: uuid.UUID, *where: Any) -> list[Any]:
    rows = await session.execute(
        select(OperationItem)
        .where(OperationItem.operation_id == operation_id, *where)
        .order_by(OperationItem.seq)
        .limit(MAX_LISTED_ERRORS)
    )
    return list(rows.scalars())


async def operation_out(session: AsyncSession, operation: Operation) -> OperationOut:
    """The public view of an operation, with its first failed and warned device changes."""
    # A failed item always has its error code (a CHECK): naming both lets the partial index of
    # failed items serve the list.
    failed = await _listed(
        session,
        operation.id,
        OperationItem.status == "failed",
        OperationItem.error_code.is_not(None),
    )
    warned = await _listed(session, operation.id, OperationItem.warning_code.is_not(None))
    return OperationOut(
        id=str(operation.id),
        kind=operation.kind,
        rolloutId=str(operation.rollout_id) if operation.rollout_id else None,
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
                hint=HINTS.get(item.error_code or ""),
            )
            for item in failed
        ],
        warnings=[
            DeviceWarning(
                deviceId=item.device_id,
                code=item.warning_code or "unknown",
                message=item.warning_message or "",
            )
            for item in warned
        ],
        retrying=(operation.detail or {}).get("retrying"),
        ticket=operation.ticket,
        actor=operation.actor,
        createdAt=operation.created_at,
        startedAt=operation.started_at,
        finishedAt=operation.finished_at,
    )
