"""Applies audience operations in Graph-sized chunks: enroll, then change the audience.

The job body (`run`) is idempotent and resumable: items are processed in order and each chunk's
outcome is committed before the next is sent, so after a crash the pending items are sent again
(Graph's audience and enrollment changes are set-like: repeating one is harmless). A PostgreSQL
advisory lock per rollout makes one runner at a time apply that rollout's operations, oldest
first, across every replica.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audience.models import AudienceDevice
from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.graph.client import GraphClient
from app.graph.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
)
from app.graph.specs import AudienceChange
from app.operations.models import Operation, OperationItem
from app.request_context import request_id_var
from app.rollouts.models import Rollout
from app.state import utc_now
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

UNFINISHED = ("queued", "running")
# After these, later chunks would fail the same way: stop and report them as not attempted.
STOPPING_ERRORS = (
    GraphAuthError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
)
ADDS = ("addMember", "addExclusion")
MEMBERSHIP = {
    "addMember": "member",
    "removeMember": "member",
    "addExclusion": "excluded",
    "removeExclusion": "excluded",
}


def final_status(succeeded: int, failed: int) -> str:
    """succeeded, failed, or partiallySucceeded from the item counts."""
    if failed == 0:
        return "succeeded"
    return "failed" if succeeded == 0 else "partiallySucceeded"


class OperationRunner:
    """Runs operations as tasks of this process (a durable job queue takes this role later)."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        graph: GraphClient,
        *,
        chunk_size: int,
        clock: Any = utc_now,
    ) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.graph = graph
        self.chunk_size = chunk_size
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._again: set[uuid.UUID] = set()

    def submit(self, rollout_id: uuid.UUID) -> asyncio.Task[None]:
        """Start applying the rollout's unfinished operations in the background.

        One task per rollout in this process: a submit while one runs asks it to look again
        when done, instead of another task holding a connection while it waits for the lock.
        """
        running = self._running.get(rollout_id)
        if running is not None:
            self._again.add(rollout_id)
            return running
        task = asyncio.get_running_loop().create_task(self._guarded(rollout_id))
        self._running[rollout_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, rollout_id: uuid.UUID) -> None:
        try:
            while True:
                self._again.discard(rollout_id)
                try:
                    await self.run(rollout_id)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("operation runner failed; pending items wait for a resume")
                    return
                if rollout_id not in self._again:
                    return
        finally:
            self._running.pop(rollout_id, None)

    async def idle(self) -> None:
        """Wait until every submitted run has ended (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the runs of this process; their pending items are resumed on the next start."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def resume_unfinished(self) -> int:
        """Submit every rollout that has queued or running operations (after a restart)."""
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(Operation.rollout_id).where(Operation.status.in_(UNFINISHED)).distinct()
            )
            rollout_ids = list(rows.scalars())
        for rollout_id in rollout_ids:
            self.submit(rollout_id)
        return len(rollout_ids)

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

    async def run(self, rollout_id: uuid.UUID) -> None:
        """Apply every unfinished operation of the rollout, oldest first, under its lock."""
        async with self.engine.connect() as lock_connection:
            key = f"rollout-operations:{rollout_id}"
            await lock_connection.execute(
                text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"), {"key": key}
            )
            try:
                if await self._rollout_status(rollout_id) != "creating":
                    while (operation_id := await self._next_unfinished(rollout_id)) is not None:
                        await self._apply(operation_id)
            finally:
                await lock_connection.execute(
                    text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), {"key": key}
                )
                await lock_connection.commit()

    async def _rollout_status(self, rollout_id: uuid.UUID) -> str | None:
        async with self.sessionmaker() as session:
            rollout = await session.get(Rollout, rollout_id)
            return rollout.status if rollout is not None else None

    async def _next_unfinished(self, rollout_id: uuid.UUID) -> uuid.UUID | None:
        async with self.sessionmaker() as session:
            return (
                await session.execute(
                    select(Operation.id)
                    .where(Operation.rollout_id == rollout_id, Operation.status.in_(UNFINISHED))
                    .order_by(Operation.created_at, Operation.id)
                    .limit(1)
                )
            ).scalar_one_or_none()

    async def _apply(self, operation_id: uuid.UUID) -> None:
        async with self.sessionmaker() as session:
            uow = UnitOfWork(session)
            operation = await session.get(Operation, operation_id)
            rollout = await session.get(Rollout, operation.rollout_id) if operation else None
            if operation is None or rollout is None:
                return
            token = request_id_var.set(operation.request_id)
            try:
                await self._apply_items(uow, operation, rollout)
            finally:
                request_id_var.reset(token)

    async def _apply_items(self, uow: UnitOfWork, operation: Operation, rollout: Rollout) -> None:
        if rollout.status == "creating":
            return  # applied once the deployment exists (reconciliation submits it again)
        operation.status = "running"
        operation.started_at = operation.started_at or self.clock()
        await uow.commit()
        context = ChangeContext(
            actor=operation.actor,
            ticket=operation.ticket,
            reason=operation.reason,
            request_id=operation.request_id,
        )
        audit = AuditRecorder(uow, context)
        stopped_by: GraphError | None = None
        while items := await self._pending(uow.session, operation.id):
            await uow.session.refresh(rollout)  # deleted or archived meanwhile: stop sending
            if stopped_by is not None or not _accepts_changes(rollout):
                self._fail(items, "notAttempted", _not_attempted(stopped_by, rollout))
            else:
                stopped_by = await self._apply_chunk(audit, operation, rollout, items)
            await self._count(uow.session, operation)
            await uow.commit()
        operation.status = final_status(operation.succeeded, operation.failed)
        operation.finished_at = self.clock()
        audit.record(
            action="audience.update",
            outcome="succeeded" if operation.failed == 0 else "failed",
            rollout_id=rollout.id,
            operation_id=operation.id,
            detail={
                "operationId": str(operation.id),
                "status": operation.status,
                "total": operation.total,
                "succeeded": operation.succeeded,
                "failed": operation.failed,
            },
        )
        await uow.commit()

    async def _pending(self, session: AsyncSession, operation_id: uuid.UUID) -> list[OperationItem]:
        query = (
            select(OperationItem)
            .where(OperationItem.operation_id == operation_id, OperationItem.status == "pending")
            .order_by(OperationItem.seq)
            .limit(self.chunk_size)
        )
        return list((await session.execute(query)).scalars())

    async def _apply_chunk(
        self,
        audit: AuditRecorder,
        operation: Operation,
        rollout: Rollout,
        items: list[OperationItem],
    ) -> GraphError | None:
        """Enroll the chunk's additions, then send its audience change; record per device."""
        adds = [i for i in items if i.change in ADDS]
        category = operation.update_category
        if adds and category != "none":
            ids = [i.device_id for i in adds]
            try:
                await audit.graph_write(
                    action="devices.enroll",
                    rollout_id=rollout.id,
                    operation_id=operation.id,
                    device_ids=ids,
                    detail={"updateCategory": category},
                    call=lambda: self.graph.enroll_assets_chunk(category, ids),  # type: ignore[arg-type]
                )
            except GraphError as error:
                self._fail(adds, error.code, error.message)
                items = [i for i in items if i.change not in ADDS]
                if isinstance(error, STOPPING_ERRORS):
                    self._fail(items, "notAttempted", _not_attempted(error))
                    return error
        if not items:
            return None
        change = AudienceChange(
            **{
                field: tuple(i.device_id for i in items if i.change == name)
                for name, field in (
                    ("addMember", "add_members"),
                    ("removeMember", "remove_members"),
                    ("addExclusion", "add_exclusions"),
                    ("removeExclusion", "remove_exclusions"),
                )
            }
        )
        deployment_id = rollout.graph_deployment_id
        assert deployment_id is not None
        try:
            result = await audit.graph_write(
                action="graph.updateAudience",
                rollout_id=rollout.id,
                operation_id=operation.id,
                device_ids=[i.device_id for i in items],
                detail={name: sum(1 for i in items if i.change == name) for name in MEMBERSHIP},
                call=lambda: self.graph.update_audience_chunk(deployment_id, change),
            )
        except GraphError as error:
            self._fail(items, error.code, error.message)
            return error if isinstance(error, STOPPING_ERRORS) else None
        request_id = result.request_ids[-1] if result.request_ids else None
        for item in items:
            item.status = "succeeded"
            item.graph_request_id = request_id
        await self._confirm(audit.uow.session, rollout.id, operation.id, items)
        return None

    @staticmethod
    def _fail(items: Sequence[OperationItem], code: str, message: str) -> None:
        for item in items:
            if item.status == "pending":
                item.status = "failed"
                item.error_code = code[:128]
                item.error_message = message

    async def _confirm(
        self,
        session: AsyncSession,
        rollout_id: uuid.UUID,
        operation_id: uuid.UUID,
        items: Sequence[OperationItem],
    ) -> None:
        """Mirror what Graph accepted into audience_devices (one statement per kind of change)."""
        now: datetime = self.clock()
        for change, membership in MEMBERSHIP.items():
            ids = [item.device_id for item in items if item.change == change]
            if not ids:
                continue
            if change in ADDS:
                statement = insert(AudienceDevice).values(
                    [
                        {
                            "rollout_id": rollout_id,
                            "membership": membership,
                            "device_id": device_id,
                            "operation_id": operation_id,
                            "confirmed_at": now,
                        }
                        for device_id in ids
                    ]
                )
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["rollout_id", "membership", "device_id"],
                        set_={"operation_id": operation_id, "confirmed_at": now},
                    )
                )
            else:
                await session.execute(
                    delete(AudienceDevice).where(
                        AudienceDevice.rollout_id == rollout_id,
                        AudienceDevice.membership == membership,
                        AudienceDevice.device_id.in_(ids),
                    )
                )

    @staticmethod
    async def _count(session: AsyncSession, operation: Operation) -> None:
        await session.flush()
        rows = await session.execute(
            select(OperationItem.status, func.count())
            .where(OperationItem.operation_id == operation.id)
            .group_by(OperationItem.status)
        )
        counts = {status: int(count) for status, count in rows.all()}
        operation.succeeded = counts.get("succeeded", 0)
        operation.failed = counts.get("failed", 0)


def _accepts_changes(rollout: Rollout) -> bool:
    """A live deployment that is not archived."""
    archived = (rollout.graph_state or {}).get("effective") == "archived"
    return rollout.status == "active" and not archived


def _not_attempted(error: GraphError | None, rollout: Rollout | None = None) -> str:
    if error is None:
        status = rollout.status if rollout is not None else "gone"
        if rollout is not None and status == "active":
            status = "archived"
        return f"not sent: the rollout is {status} and has no Graph deployment to change"
    return f"not sent: an earlier call failed with {error.code}"
