"""Finds rollouts whose creation ended without a recorded outcome, and settles them from Graph."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.commands.models import Command
from app.graph.client import GraphClient
from app.graph.errors import GraphError
from app.operations.abandon import abandon_operations_of
from app.operations.queueing import queue_operations_of
from app.rollouts.models import Rollout
from app.rollouts.status import RolloutStatus
from app.rollouts.views import graph_state_record
from app.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    import procrastinate

log = logging.getLogger(__name__)

RECONCILER = "reconciler"


@dataclass(frozen=True)
class Reconciling:
    """What settling lost creations needs: the database, Graph, the clock and the job queue."""

    sessionmaker: async_sessionmaker[AsyncSession]
    graph: GraphClient
    clock: Callable[[], datetime]
    queue: procrastinate.App


async def reconcile_creating_rollouts(
    services: Reconciling, *, min_age_seconds: float
) -> list[uuid.UUID]:
    """Adopt or fail every rollout left `creating` for at least `min_age_seconds`.

    The rollout's pre-created audience identifies its deployment: if Graph holds a deployment
    with that audience, it is ours and is adopted (and the rollout's queued audience operations
    are started); if none does, Graph never created it and the rollout is marked failed.
    Returns the ids of the rollouts that were adopted.
    """
    adopted: list[uuid.UUID] = []
    # updated_at is stamped by the database, so its age is measured on the database's clock.
    cutoff = func.now() - timedelta(seconds=min_age_seconds)
    async with services.sessionmaker() as session:
        uow = UnitOfWork(session)
        rows = await session.execute(
            select(Rollout)
            .where(
                Rollout.status == RolloutStatus.CREATING,
                Rollout.updated_at <= cutoff,
                # A create command still held or queued settles its rollout itself.
                ~exists().where(
                    Command.rollout_id == Rollout.id, Command.status.in_(("queued", "running"))
                ),
            )
            .order_by(Rollout.created_at)
            .with_for_update(skip_locked=True)
        )
        settled = list(rows.scalars())
        for rollout in settled:
            if await _settle(services, uow, rollout):
                adopted.append(rollout.id)
                await queue_operations_of(services.queue, uow, rollout)
            elif rollout.status == RolloutStatus.FAILED:
                await abandon_operations_of(uow, rollout.id, services.clock())
        await uow.commit()
    return adopted


async def _settle(services: Reconciling, uow: UnitOfWork, rollout: Rollout) -> bool:
    """Adopt the rollout's deployment (True) or mark the rollout failed; postpone on errors."""
    audit = AuditRecorder(
        uow,
        ChangeContext(
            actor=RECONCILER, ticket=rollout.ticket, reason=rollout.reason, request_id=None
        ),
    )

    def settled(outcome: str, request_ids: list[str], detail: dict[str, Any]) -> None:
        audit.record(
            action="rollout.create",
            outcome=outcome,
            rollout_id=rollout.id,
            graph_request_ids=request_ids,
            detail={"reconciled": True, **detail},
        )

    if rollout.graph_audience_id is None:
        rollout.status = RolloutStatus.FAILED
        settled("failed", [], {"why": "no audience was created at Graph"})
        return False
    try:
        found = await services.graph.find_deployment_by_audience(rollout.graph_audience_id)
    except GraphError as error:
        log.warning("reconciliation of %s postponed: %s", rollout.id, error)
        return False
    if found.value is None:
        rollout.status = RolloutStatus.FAILED
        why = f"no deployment holds audience {rollout.graph_audience_id}"
        settled("failed", found.request_ids, {"why": why})
        return False
    rollout.status = RolloutStatus.ACTIVE
    rollout.graph_deployment_id = found.value.id
    rollout.graph_state = graph_state_record(found.value, services.clock())
    settled(
        "succeeded",
        found.request_ids,
        {
            "adopted": True,
            "graphDeploymentId": found.value.id,
            "graphAudienceId": rollout.graph_audience_id,
        },
    )
    return True
