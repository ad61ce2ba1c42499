"""Putting operations on the job queue (in the caller's transaction), or ending those that can
never run."""

from __future__ import annotations

import procrastinate
from sqlalchemy import bindparam, select

from app.jobs.queue import defer_operation
from app.operations.models import Operation
from app.rollouts.models import Rollout
from app.unit_of_work import UnitOfWork

UNFINISHED = ("queued", "running")
# A rollout's unfinished operations, oldest first; built once.
_UNFINISHED_OF = (
    select(Operation)
    .where(Operation.rollout_id == bindparam("of_rollout"), Operation.status.in_(UNFINISHED))
    .order_by(Operation.created_at, Operation.id)
)


async def queue_operation(queue: procrastinate.App, uow: UnitOfWork, operation: Operation) -> None:
    """Queue the job that runs `operation`; it commits (or not) with the unit of work. A dry
    run notes the operation, to plan its Graph calls."""
    if uow.dry_run is not None:
        uow.dry_run.operations.append(operation)
    await defer_operation(queue, uow, operation.id, operation.rollout_id)


async def _unfinished(uow: UnitOfWork, rollout: Rollout) -> list[Operation]:
    rows = await uow.session.execute(_UNFINISHED_OF, {"of_rollout": rollout.id})
    return list(rows.scalars())


async def queue_operations_of(queue: procrastinate.App, uow: UnitOfWork, rollout: Rollout) -> None:
    """Queue the rollout's unfinished operations, oldest first (its deployment now exists)."""
    for operation in await _unfinished(uow, rollout):
        await queue_operation(queue, uow, operation)
