"""The job queue: a procrastinate App on the service's own PostgreSQL, and deferring jobs in the
same transaction as the rows that describe them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import procrastinate
import psycopg_pool

from app.jobs.tasks import EXECUTE_COMMAND, QUEUE, RUN_OPERATION, blueprint
from app.unit_of_work import UnitOfWork

POOL_SIZE = 4


def libpq_url(database_url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy) → `postgresql://…` (libpq, what psycopg takes)."""
    scheme, _, rest = database_url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else database_url


def build_queue(database_url: str) -> procrastinate.App:
    """The queue on the database at `database_url`, with the service's tasks registered."""
    connector = procrastinate.PsycopgConnector(conninfo=libpq_url(database_url))
    queue = procrastinate.App(connector=connector)
    queue.add_tasks_from(blueprint(), namespace="autopatch")
    return queue


@contextlib.asynccontextmanager
async def opened(queue: procrastinate.App, database_url: str) -> AsyncIterator[None]:
    """The queue with its own small connection pool, opened without waiting for the database
    (an unreachable database is reported by /readyz and by each call, not by a hung start)."""
    pool = psycopg_pool.AsyncConnectionPool(
        libpq_url(database_url),
        min_size=1,
        max_size=POOL_SIZE,
        open=False,
        check=psycopg_pool.AsyncConnectionPool.check_connection,
        timeout=5.0,  # a database that went away fails calls quickly, not after 30 s
    )
    await pool.open(wait=False)
    await queue.open_async(pool=pool)
    try:
        yield
    finally:
        await queue.close_async()
        await pool.close()


def operation_lock(rollout_id: uuid.UUID | None) -> str:
    """One rollout's operations run one at a time, in order (releases outside rollouts too)."""
    return f"operations:{rollout_id or 'releases'}"


async def defer_operation(
    queue: procrastinate.App, uow: UnitOfWork, operation_id: uuid.UUID, rollout_id: uuid.UUID | None
) -> None:
    """Queue the job that runs the operation, in the unit of work's transaction: it exists if
    and only if the operation's rows are committed."""
    connection = await _driver_connection(uow)
    task = queue.tasks[f"autopatch:{RUN_OPERATION}"]
    await task.configure(
        queue=QUEUE, lock=operation_lock(rollout_id), connection=connection
    ).defer_async(operation_id=str(operation_id))


async def defer_command(
    queue: procrastinate.App, uow: UnitOfWork, command_id: uuid.UUID, *, after_seconds: float
) -> None:
    """Queue the job that runs a command should its requester not (it died first), after the
    requester's lease would have run out; in the unit of work's transaction."""
    connection = await _driver_connection(uow)
    task = queue.tasks[f"autopatch:{EXECUTE_COMMAND}"]
    await task.configure(
        queue=QUEUE, schedule_in={"seconds": int(after_seconds) + 1}, connection=connection
    ).defer_async(command_id=str(command_id))


async def _driver_connection(uow: UnitOfWork) -> Any:
    """The psycopg connection under the session's current transaction."""
    connection = await uow.session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
