"""Routes of /v1/operations."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import UowDep
from app.api.problems import problem_responses
from app.api.security import READER
from app.operations.schemas import OperationOut
from app.operations.views import get_operation_or_404, operation_out

router = APIRouter(prefix="/v1/operations", tags=["operations"])


@router.get(
    "/{operationId}",
    dependencies=[READER],
    summary="Get an operation",
    responses=problem_responses(404),
)
async def get_operation(operationId: str, uow: UowDep) -> OperationOut:
    """The progress of an audience change: counts, per-device errors, and when it finished.

    `status` is `queued` or `running` until every device change was sent to Graph, then
    `succeeded`, `partiallySucceeded` or `failed`. An operation survives a restart of the
    service: unfinished device changes are picked up again and none is applied twice.
    """
    operation = await get_operation_or_404(uow.session, operationId)
    return await operation_out(uow.session, operation)
