"""Building a worker's services from the settings and the process's shared resources."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.commands.executor import CommandExecutor
from app.graph.client import GraphClient
from app.idempotency.store import IdempotencyStore
from app.jobs.services import JobServices
from app.operations.executor import OperationExecutor
from app.operations.queueing import queue_operations_of
from app.review.changes import expire_due
from app.rollouts.drift import reconcile_all
from app.rollouts.models import Rollout
from app.rollouts.reconcile import Reconciling, reconcile_creating_rollouts
from app.settings import Settings
from app.unit_of_work import UnitOfWork

# Jobs one worker process runs at once (its Graph calls are bounded by GRAPH_CONCURRENCY).
WORKER_JOBS = 8


def lease_seconds(settings: Settings) -> float:
    """How long a command's holder may take before another may run it: longer than one Graph
    call with every retry the settings allow."""
    return (
        settings.graph_timeout_seconds * settings.graph_max_attempts
        + settings.graph_max_retry_wait_seconds
        + 30.0
    )


def command_executor(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    graph: GraphClient,
    queue: procrastinate.App,
    clock: Callable[[], datetime],
) -> CommandExecutor:
    """The executor of commands; a created deployment queues the rollout's operations."""

    async def on_created(uow: UnitOfWork, rollout: Rollout) -> None:
        await queue_operations_of(queue, uow, rollout)

    return CommandExecutor(
        sessionmaker,
        graph,
        lease_seconds=lease_seconds(settings),
        clock=clock,
        on_created=on_created,
    )


def job_services(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    graph: GraphClient,
    queue: procrastinate.App,
    clock: Callable[[], datetime],
) -> JobServices:
    """The executor of operations and the sweep's settling of creations, for one process."""
    stopping = asyncio.Event()
    executor = OperationExecutor(
        sessionmaker,
        graph,
        chunk_size=settings.graph_max_ids_per_call,
        confirm_seconds=settings.enrollment_confirm_seconds,
        concurrency=settings.graph_concurrency,
        clock=clock,
        stopping=stopping,
    )
    reconciling = Reconciling(sessionmaker=sessionmaker, graph=graph, clock=clock, queue=queue)

    async def settle_creations() -> object:
        return await reconcile_creating_rollouts(
            reconciling, min_age_seconds=settings.reconcile_after_seconds
        )

    async def reconcile_drift() -> int:
        return await reconcile_all(sessionmaker, graph, clock)

    async def expire_changes() -> int:
        return await expire_due(sessionmaker, clock())

    return JobServices(
        purge_expired=IdempotencyStore(sessionmaker, lease_seconds=0).purge_expired,
        expire_changes=expire_changes,
        stopping=stopping,
        executor=executor,
        commands=command_executor(settings, sessionmaker, graph, queue, clock),
        settle_creations=settle_creations,
        reconcile_drift=reconcile_drift,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
    )
