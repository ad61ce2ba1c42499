"""Runs an operation: an audience change (enroll members, then change the audience) or a release
(unenroll), in Graph-sized chunks, then waits until Graph shows the result.

`apply` is the body of the `run_operation` job; it is idempotent and resumable: items are
processed in order and each chunk's outcome is committed before the next is sent, so after a crash
the pending items are sent again (Graph's audience and enrollment changes are set-like: repeating
one is harmless); items already sent are only read back. The job queue runs one operation of a
rollout at a time, oldest first (a lock per rollout), on any worker replica.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.db import table_of
from app.graph.client import GraphClient, PageListener
from app.graph.errors import GraphError, is_transient
from app.operations import item_store
from app.operations.confirmation import (
    GraphView,
    fill_missing_enrollment,
    read_assets,
    read_audience,
)
from app.operations.early_settling import read_settling
from app.operations.item_store import Item
from app.operations.models import Operation, OperationItem
from app.operations.sending import ChunkSender, not_attempted
from app.operations.settling import settle
from app.request_context import request_id_var
from app.rollouts.models import Rollout
from app.state import utc_now
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

UNFINISHED = ("queued", "running")
# Waits between readings of Graph while it applies accepted changes (seconds, then the last).
CONFIRM_POLL_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
Sleep = Callable[[float], Awaitable[None]]


def context_of(operation: Operation) -> ChangeContext:
    """Who asked for the operation, why, and who approved it: what its events record."""
    return ChangeContext(
        actor=operation.actor,
        ticket=operation.ticket,
        reason=operation.reason,
        request_id=operation.request_id,
    ).approved((operation.detail or {}).get("approval"))


def final_status(succeeded: int, failed: int) -> str:
    """succeeded, failed, or partiallySucceeded from the item counts."""
    if failed == 0:
        return "succeeded"
    return "failed" if succeeded == 0 else "partiallySucceeded"


class OperationExecutor:
    """Applies one operation to the end: the body of the `run_operation` job."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        graph: GraphClient,
        *,
        chunk_size: int,
        confirm_seconds: float = 600.0,
        concurrency: int = 4,
        clock: Any = utc_now,
        sleep: Sleep = asyncio.sleep,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        # Set when the worker is asked to stop: chunks not started stay pending, the wait for
        # Graph's confirmation ends, and apply() raises HandedBack for another worker to go on.
        self.stopping = stopping or asyncio.Event()
        self.graph = graph
        self.chunk_size = chunk_size
        self.concurrency = concurrency
        self.confirm_seconds = confirm_seconds
        self.clock = clock
        self.sleep = sleep

    async def apply(self, operation_id: uuid.UUID, *, final: bool = True) -> None:
        """Send what is pending, read back what was sent, finish; nothing done twice.

        An operation of a rollout whose deployment is still being created waits: the job
        that creates it (or adopts it after a lost outcome) queues the operation again. When
        Graph is down or throttling beyond the retry budget and this is not the job's `final`
        attempt, the unsent devices stay pending, the operation says so in `retrying`, and
        WaitingForGraph makes the job try again later, backing off.
        """
        async with self.sessionmaker() as session:
            uow = UnitOfWork(session)
            operation = await session.get(Operation, operation_id)
            if operation is None or operation.status not in UNFINISHED:
                return
            rollout = (
                await session.get(Rollout, operation.rollout_id)
                if operation.rollout_id is not None
                else None
            )
            token = request_id_var.set(operation.request_id)
            try:
                await self._apply_items(uow, operation, rollout, final)
            finally:
                request_id_var.reset(token)

    async def _apply_items(
        self, uow: UnitOfWork, operation: Operation, rollout: Rollout | None, final: bool
    ) -> None:
        if rollout is not None and rollout.status == "creating":
            return  # applied once the deployment exists (reconciliation submits it again)
        operation.status = "running"
        operation.started_at = operation.started_at or self.clock()
        await uow.commit()
        context = context_of(operation)
        outage = await self._send_all(context, operation, rollout, final)
        if self.stopping.is_set():
            raise HandedBack(operation.id)
        await uow.session.refresh(operation)
        await self._count(uow.session, operation)
        operation.detail = _retrying(operation.detail, outage, self.clock())
        await uow.commit()
        if outage is not None:
            raise WaitingForGraph(outage)
        await self._confirm_all(uow, operation, rollout)
        await self._count(uow.session, operation)
        audit = AuditRecorder(uow, context)
        operation.status = final_status(operation.succeeded, operation.failed)
        operation.finished_at = self.clock()
        audit.record(
            action=operation.kind,
            outcome="succeeded" if operation.failed == 0 else "failed",
            rollout_id=operation.rollout_id,
            operation_id=operation.id,
            device_ids=await self._device_ids(uow.session, operation.id),
            detail={
                "operationId": str(operation.id),
                "status": operation.status,
                "total": operation.total,
                "succeeded": operation.succeeded,
                "failed": operation.failed,
                "warnings": await self._warning_count(uow.session, operation.id),
            },
        )
        await uow.commit()
        log.info(
            "operation %s %s: %d succeeded, %d failed of %d",
            operation.kind,
            operation.status,
            operation.succeeded,
            operation.failed,
            operation.total,
            extra={"operationId": str(operation.id), "rolloutId": str(operation.rollout_id)},
        )

    async def _send_all(
        self, context: ChangeContext, operation: Operation, rollout: Rollout | None, final: bool
    ) -> GraphError | None:
        """Send the pending items in chunks through `concurrency` lanes, each sending one chunk
        after another with one session; after an error later calls would meet too, the chunks
        not started yet are not sent. Returns the outage that left devices pending for a later
        attempt (not `final`), if any.

        A chunk's end (its calls' outcomes, its items marked sent) is committed with the lane's
        next chunk's intents, before that chunk's first call: one commit per chunk, and a crash
        in between leaves what a crash between a call and its own commit would (the intent
        without its outcome; the items pending, sent again)."""
        async with self.sessionmaker() as session:
            pending = await item_store.load(session, operation.id, "pending")
        if not pending:
            return None
        sender = ChunkSender.for_operation(self.graph, operation, rollout, final=final)
        chunks = item_store.chunks_of(pending, self.chunk_size)
        untaken = iter(chunks)  # shared by the lanes: each chunk is taken by one of them
        stopped: list[GraphError] = []

        async def lane() -> None:
            async with self.sessionmaker() as session:
                uow = UnitOfWork(session)
                audit = AuditRecorder(uow, context)
                for chunk in untaken:
                    if self.stopping.is_set():
                        break  # left pending: the worker is stopping, another one sends it
                    await self._send_chunk(audit, sender, operation, chunk, stopped, final)
                await uow.commit()

        await asyncio.gather(*(lane() for _ in range(min(self.concurrency, len(chunks)))))
        return stopped[0] if _waits(stopped, final) else None

    async def _send_chunk(
        self,
        audit: AuditRecorder,
        sender: ChunkSender,
        operation: Operation,
        chunk: Sequence[Item],
        stopped: list[GraphError],
        final: bool,
    ) -> None:
        """Send one chunk (or fail it, or leave it pending); its end is left to the next
        commit."""
        reason = await self._not_sendable(audit.uow.session, operation, stopped)
        if reason is not None and _waits(stopped, final):
            pass  # Graph is down: left pending for the next attempt
        elif reason is not None:
            await sender.fail(audit, chunk, "notAttempted", reason)
        elif operation.kind == "devices.release":
            stopped.extend(filter(None, [await sender.release_chunk(audit, chunk)]))
        else:
            now = self.clock()
            stopped.extend(filter(None, [await sender.audience_chunk(audit, chunk, now)]))

    async def _not_sendable(
        self, session: AsyncSession, operation: Operation, stopped: list[GraphError]
    ) -> str | None:
        """Why the next chunk must not be sent: an earlier call failed in a way it would repeat,
        or the rollout was deleted or archived meanwhile."""
        if stopped:
            return not_attempted(stopped[0])
        if operation.kind == "devices.release" or operation.rollout_id is None:
            return None
        # Read afresh for every chunk. Without autoflush: the previous chunk's outcome, waiting
        # for the commit, is then written in one INSERT with this chunk's intent.
        with session.no_autoflush:
            found = await session.execute(_ROLLOUT_STATE, {"rollout_id": operation.rollout_id})
        status, effective = found.first() or ("gone", None)
        if status != "active":
            return _not_sent(status)
        if effective == "archived":
            return _not_sent("archived")
        return None

    async def _confirm_all(
        self, uow: UnitOfWork, operation: Operation, rollout: Rollout | None
    ) -> None:
        """Read Graph until it shows every sent item applied, or the wait runs out."""
        sent = await item_store.load(uow.session, operation.id, "sent")
        if not sent:
            return
        if operation.confirming_since is None:
            operation.confirming_since = datetime.now(UTC)
            await uow.commit()
        polls = iter(CONFIRM_POLL_SECONDS)
        wait = 0.0
        while True:
            waited = (datetime.now(UTC) - operation.confirming_since).total_seconds()
            final = waited >= self.confirm_seconds
            view, unsettled = await self._read_settling_shown(uow, operation, rollout, sent)
            sent = await settle(
                uow,
                operation,
                unsettled,
                view,
                final=final,
                waited_seconds=waited,
                now=self.clock(),
            )
            await uow.commit()
            if not sent:
                return
            if self.stopping.is_set():
                raise HandedBack(operation.id)
            wait = next(polls, wait)
            await self._sleep_unless_stopping(max(0.0, min(wait, self.confirm_seconds - waited)))

    async def _read_settling_shown(
        self, uow: UnitOfWork, operation: Operation, rollout: Rollout | None, sent: list[Item]
    ) -> tuple[GraphView | None, list[Item]]:
        """One reading of Graph, during which the added members its pages list are settled
        and committed (app.operations.early_settling); the reading, and the items left."""

        async def settle_shown(items: list[Item], shown: GraphView) -> list[Item]:
            waiting = await settle(
                uow, operation, items, shown, final=False, waited_seconds=0.0, now=self.clock()
            )
            await uow.commit()
            return waiting

        def read(on_members: PageListener | None) -> Awaitable[GraphView | None]:
            return self._read(operation, rollout, sent, on_members)

        return await read_settling(read, sent, settle_shown)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        """Sleep, but wake as soon as the worker is asked to stop."""
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait(
                {stop, asyncio.ensure_future(self.sleep(seconds))},
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stop.cancel()

    async def _read(
        self,
        operation: Operation,
        rollout: Rollout | None,
        items: list[Item],
        on_members: PageListener | None = None,
    ) -> GraphView | None:
        """One reading of what Graph shows for the items (`on_members` sees each page of
        members as it comes); None when Graph could not be read."""
        try:
            if operation.kind == "devices.release":
                return await read_assets(self.graph, [item.device_id for item in items])
            if rollout is None or rollout.graph_deployment_id is None:
                return None
            changes = {item.change for item in items}
            view = await read_audience(
                self.graph,
                rollout.graph_deployment_id,
                members=bool(changes & {"addMember", "removeMember"}),
                exclusions=bool(changes & {"addExclusion", "removeExclusion"}),
                on_members=on_members,
            )
            added = [item.device_id for item in items if item.change == "addMember"]
            await fill_missing_enrollment(self.graph, view, added, operation.update_category)
            return view
        except GraphError as error:
            log.warning("operation %s: Graph could not be read back: %s", operation.id, error)
            return None

    @staticmethod
    async def _device_ids(session: AsyncSession, operation_id: uuid.UUID) -> list[str]:
        rows = await session.execute(
            select(OperationItem.device_id)
            .where(OperationItem.operation_id == operation_id)
            .order_by(OperationItem.seq)
        )
        return list(dict.fromkeys(rows.scalars()))

    @staticmethod
    async def _warning_count(session: AsyncSession, operation_id: uuid.UUID) -> int:
        count = await session.scalar(
            select(func.count()).where(
                OperationItem.operation_id == operation_id,
                OperationItem.warning_code.is_not(None),
            )
        )
        return int(count or 0)

    @staticmethod
    async def _count(session: AsyncSession, operation: Operation) -> None:
        found = await item_store.counts(session, operation.id)
        operation.succeeded = found.get("succeeded", 0)
        operation.failed = found.get("failed", 0)


class HandedBack(Exception):
    """The worker is stopping: the operation stopped at a committed step, for another worker to
    resume (what was sent is recorded; nothing is sent twice)."""

    def __init__(self, operation_id: uuid.UUID) -> None:
        super().__init__(f"operation {operation_id} handed back: the worker is stopping")
        self.operation_id = operation_id


class WaitingForGraph(Exception):
    """Graph is down or throttling: the operation's job tries again later (devices pending)."""

    def __init__(self, error: GraphError) -> None:
        super().__init__(f"waiting for Graph: {error.code}: {error.message}")
        self.error = error


def _waits(stopped: list[GraphError], final: bool) -> bool:
    """Did an outage stop the sending, with attempts left to wait it out?"""
    return bool(stopped) and not final and is_transient(stopped[0])


def _retrying(detail: dict[str, Any], outage: GraphError | None, now: datetime) -> dict[str, Any]:
    """The operation's detail saying why it waits for Graph (or no longer does)."""
    rest = {k: v for k, v in (detail or {}).items() if k != "retrying"}
    if outage is None:
        return rest
    since = (detail or {}).get("retrying", {}).get("since") or now.isoformat()
    return {**rest, "retrying": {"code": outage.code, "message": outage.message, "since": since}}


_ROLLOUTS = table_of(Rollout)
_ROLLOUT_STATE = select(_ROLLOUTS.c.status, _ROLLOUTS.c.graph_state["effective"].astext).where(
    _ROLLOUTS.c.id == bindparam("rollout_id")
)
"""Whether a rollout still accepts changes: its status, and the state Graph last showed (a
live deployment that is not archived does). Two columns, not the whole row as an object."""


def _not_sent(status: str) -> str:
    return f"not sent: the rollout is {status} and has no Graph deployment to change"
