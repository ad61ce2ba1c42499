"""Building a worker's services from the settings and the process's shared resources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.graph.client import GraphClient
from app.jobs.services import JobServices
from app.operations.executor import OperationExecutor
from app.rollouts.drift import reconcile_all
from app.rollouts.reconcile import Reconciling, reconcile_creating_rollouts
from app.settings import Settings

# Jobs one worker process runs at once (its Graph calls are bounded by GRAPH_CONCURRENCY).
WORKER_JOBS = 8


def job_services(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    graph: GraphClient,
    queue: procrastinate.App,
    clock: Callable[[], datetime],
) -> JobServices:
    """The executor of operations and the sweep's settling of creations, for one process."""
    executor = OperationExecutor(
        sessionmaker,
        graph,
        chunk_size=settings.graph_max_ids_per_call,
        confirm_seconds=settings.enrollment_confirm_seconds,
        concurrency=settings.graph_concurrency,
        clock=clock,
    )
    reconciling = Reconciling(sessionmaker=sessionmaker, graph=graph, clock=clock, queue=queue)

    async def settle_creations() -> object:
        return await reconcile_creating_rollouts(
            reconciling, min_age_seconds=settings.reconcile_after_seconds
        )

    async def reconcile_drift() -> int:
        return await reconcile_all(sessionmaker, graph, clock)

    return JobServices(
        executor=executor,
        settle_creations=settle_creations,
        reconcile_drift=reconcile_drift,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
    )
