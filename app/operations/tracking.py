"""Watching operations from the API: wait for one to finish (`Prefer: wait`), or for the queue to
have no operation job left to run (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.operations.models import Operation

UNFINISHED = ("queued", "running")
_RUNNABLE_JOBS = text(
    "SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE '%run_operation'"
    " AND (status = 'doing' OR (status = 'todo'"
    " AND (scheduled_at IS NULL OR scheduled_at <= now())))"
)


class OperationTracker:
    """Reads the database only: any replica can answer for work any worker does."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def wait(self, operation_id: uuid.UUID, seconds: float) -> Operation | None:
        """The operation once finished, or None if `seconds` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            async with self.sessionmaker() as session:
                operation = await session.get(Operation, operation_id)
            if operation is not None and operation.status not in UNFINISHED:
                return operation
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(min(0.05, max(deadline - loop.time(), 0)))

    async def idle(self) -> None:
        """Return once no operation job is waiting to run or running (bound it with
        asyncio.timeout)."""
        while True:
            async with self.sessionmaker() as session:
                runnable = int((await session.execute(_RUNNABLE_JOBS)).scalar_one())
            if runnable == 0:
                return
            await asyncio.sleep(0.02)
