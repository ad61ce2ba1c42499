"""The command executor: claim a command (a lease), call Graph holding no transaction, record the
outcome, its audit event and the rollout's transition in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent
from app.audit.recorder import AuditRecorder, OutcomeNotRecorded, graph_error_detail
from app.change_context import ChangeContext
from app.commands import kinds
from app.commands.models import Command
from app.db import table_of
from app.graph.client import GraphClient
from app.graph.errors import GraphError
from app.graph.results import GraphResult
from app.operations.abandon import abandon_operations_of
from app.problems import DatabaseUnavailable
from app.request_context import request_id_var
from app.rollouts import repository
from app.rollouts.models import Rollout
from app.unit_of_work import UnitOfWork, execute_alone

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed")
# Takes the command if it is free, answering its row: the claim and the read are one statement.
_CLAIM = select(Command).from_statement(
    text(
        "UPDATE commands SET status = 'running', attempts = attempts + 1,"
        " lease_until = now() + make_interval(secs => :lease)"
        " WHERE id = :id AND (status = 'queued' OR (status = 'running' AND lease_until < now()))"
        " RETURNING *"
    )
)
# Built once (building a statement costs more CPU than the round trip it makes), on the tables
# rather than the mapped classes: neither session holds the rows they change, so the ORM's
# bookkeeping for an UPDATE would be work for nothing. `updated_at`'s onupdate is the column's,
# and applies here too.
_COMMANDS = table_of(Command)
_ROLLOUTS = table_of(Rollout)
# A create's anchor, the pre-created audience id, on its command and on the rollout: one
# statement, since PostgreSQL runs the command's UPDATE in the WITH to completion.
_ANCHOR = (
    update(_ROLLOUTS)
    .where(_ROLLOUTS.c.id == bindparam("anchor_rollout"))
    .values(graph_audience_id=bindparam("anchor_value"))
    .add_cte(
        update(_COMMANDS)
        .where(_COMMANDS.c.id == bindparam("anchor_command"))
        .values(anchor=bindparam("anchor_value"))
        .cte("anchored")
    )
)
# A command's end: its outcome, the result it recorded, and no lease any more.
_FINISH = (
    update(_COMMANDS)
    .where(_COMMANDS.c.id == bindparam("finished_command"))
    .values(
        status=bindparam("finished_status"),
        # None is SQL NULL, as a literal None in values() is (not JSON's null).
        result=bindparam("finished_result", type_=JSONB(none_as_null=True)),
        finished_at=bindparam("finished_at_value", type_=_COMMANDS.c.finished_at.type),
        lease_until=None,
    )
)


@dataclass(frozen=True)
class Claimed:
    """A command this executor holds, and what its Graph call needs; for a command run by its
    requester, the requester's change context (the one its intent was recorded under)."""

    command: Command
    target: kinds.Target
    context: ChangeContext | None = None


class CommandExecutor:
    """Runs commands, in the request that asked (synchronous routes) or in a worker's job."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        graph: GraphClient,
        *,
        lease_seconds: float,
        clock: Callable[[], datetime],
        on_created: Callable[[UnitOfWork, Rollout], Any] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.graph = graph
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.on_created = on_created

    async def execute(self, command_id: uuid.UUID) -> Command | None:
        """Run the command if it is free (its holder's lease ran out, or queued: as an earlier
        version recorded commands) and return it finished; None when another executor holds it.
        GraphError when Graph refused (after the outcome was recorded)."""
        claimed = await self._claim(command_id)
        if claimed is None:
            return None
        return await self._run(claimed)

    async def execute_held(
        self, command: Command, rollout: Rollout, context: ChangeContext
    ) -> Command:
        """Run a command its requester recorded as held (commands.service.enqueue) and has just
        committed, on `rollout` as the requester read it; as execute, without the claim. The
        outcome is recorded under the requester's `context`, as its intent was."""
        target = kinds.Target.of(rollout, command.anchor)
        return await self._run(Claimed(command, target, context))

    async def _run(self, claimed: Claimed) -> Command:
        command = claimed.command
        token = request_id_var.set(command.request_id)
        try:
            try:
                result = await kinds.call(
                    self.graph, command.kind, command.payload, claimed.target, self._anchor(command)
                )
            except GraphError as error:
                error.context.setdefault("rolloutId", str(command.rollout_id))
                await self._record_failure(claimed, error)
                raise
            return await self._record_success(claimed, result)
        finally:
            request_id_var.reset(token)

    async def _claim(self, command_id: uuid.UUID) -> Claimed | None:
        async with self.sessionmaker() as session:
            claimed = await session.scalars(_CLAIM, {"id": command_id, "lease": self.lease_seconds})
            command = claimed.first()
            if command is None:
                await session.rollback()
                return None
            rollout = await session.get(Rollout, command.rollout_id)
            assert rollout is not None
            await session.commit()
            return Claimed(command, kinds.Target.of(rollout, command.anchor))

    def _anchor(self, command: Command) -> kinds.SaveAnchor:
        """Record a create's pre-created audience id before the deployment is asked for."""

        async def save(audience_id: str) -> None:
            async with self.sessionmaker() as session:
                await execute_alone(
                    session,
                    _ANCHOR,
                    {
                        "anchor_rollout": command.rollout_id,
                        "anchor_command": command.id,
                        "anchor_value": audience_id,
                    },
                )

        return save

    async def _context(self, uow: UnitOfWork, command: Command) -> ChangeContext:
        """The change context the command's intent was recorded under, approval included."""
        context = ChangeContext(
            actor=command.actor,
            ticket=command.ticket,
            reason=command.reason,
            request_id=command.request_id,
        )
        if command.intent_event_id is None:
            return context
        intent = await uow.session.get(AuditEvent, command.intent_event_id)
        return context.approved((intent.detail or {}).get("approval") if intent else None)

    async def _close(
        self,
        uow: UnitOfWork,
        claimed: Claimed,
        outcome: str,
        request_ids: list[str],
        detail: dict[str, Any] | None,
    ) -> None:
        """The audit event closing the command's intent, and the command's own end."""
        command = claimed.command
        context = claimed.context or await self._context(uow, command)
        AuditRecorder(uow, context).record(
            action=command.action,
            outcome=outcome,
            rollout_id=command.rollout_id,
            intent_id=command.intent_event_id,
            graph_request_ids=request_ids,
            detail=detail,
        )
        await uow.session.execute(
            _FINISH,
            {
                "finished_command": command.id,
                "finished_status": outcome,
                "finished_result": detail,
                "finished_at_value": self.clock(),
            },
        )

    async def record_success(
        self, uow: UnitOfWork, claimed: Claimed, result: GraphResult[Any]
    ) -> None:
        """Graph's success in `uow` (not committed): the rollout's transition, the work a
        created deployment releases, the `succeeded` event and the command's end."""
        command = claimed.command
        rollout = await repository.locked(uow.session, command.rollout_id)
        detail = kinds.succeeded(command.kind, command.payload, rollout, result.value, self.clock())
        if command.kind == kinds.CREATE and self.on_created is not None:
            await self.on_created(uow, rollout)
        await self._close(uow, claimed, "succeeded", list(result.request_ids), detail)

    async def _record_success(self, claimed: Claimed, result: GraphResult[Any]) -> Command:
        command = claimed.command
        try:
            async with self.sessionmaker() as session:
                uow = UnitOfWork(session)
                await self.record_success(uow, claimed, result)
                await uow.commit()
        except (DatabaseUnavailable, DBAPIError) as exc:
            # Graph made the change; the lease runs out and the command runs again, adopting it.
            raise OutcomeNotRecorded(
                f"Graph accepted {command.action} (request ids"
                f" {', '.join(result.request_ids)}) but the outcome could not be recorded; the"
                " service records it when the command runs again.",
                rolloutId=str(command.rollout_id),
                graphRequestId=result.request_ids[-1] if result.request_ids else None,
            ) from exc
        command.status = "succeeded"
        return command

    async def _record_failure(self, claimed: Claimed, error: GraphError) -> None:
        """A failure is recorded as `failed` (with `outcomeUnknown` when Graph may have applied
        it: the drift check then reports what Graph did). An ambiguous create instead stays held
        until its lease runs out and runs again, adopting the deployment its anchor finds."""
        command = claimed.command
        if error.outcome_unknown and command.kind == kinds.CREATE:
            log.warning("command %s: outcome unknown, retried later: %s", command.id, error)
            return
        async with self.sessionmaker() as session:
            uow = UnitOfWork(session)
            rollout = await repository.locked(session, command.rollout_id)
            kinds.failed(command.kind, rollout, error)
            if command.kind == kinds.CREATE and rollout.status == "failed":
                await abandon_operations_of(uow, rollout.id, self.clock())
            await self._close(
                uow, claimed, "failed", list(error.request_ids), graph_error_detail(error)
            )
            await uow.commit()

    async def unfinished(self, command_id: uuid.UUID) -> bool:
        """Is the command still queued or held?"""
        async with self.sessionmaker() as session:
            command = await session.get(Command, command_id)
            return command is not None and command.status not in FINISHED
