"""Asking for a Graph write: the command row, its audit intent and its safety-net job, in the
request's one transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import procrastinate
from sqlalchemy import Interval, bindparam, func, insert
from sqlalchemy.orm import make_transient_to_detached

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.commands.models import Command
from app.db import table_of
from app.jobs.queue import defer_command
from app.unit_of_work import UnitOfWork

_COMMANDS = table_of(Command)
# The command as held by its requester until now() plus the lease, by the database's clock.
# Built once, on the table: one row needs none of the ORM's unit-of-work (about 1 ms of CPU).
_INSERT_HELD = insert(_COMMANDS).values(
    lease_until=func.now() + bindparam("lease_for", type_=Interval())
)
# Every other column comes from the command object, which enqueue builds with all of them set.
_DATABASE_CLOCK = ("lease_until", "created_at")
_HELD_COLUMNS = tuple(c.key for c in _COMMANDS.columns if c.key not in _DATABASE_CLOCK)


async def enqueue(
    uow: UnitOfWork,
    queue: procrastinate.App,
    context: ChangeContext,
    *,
    rollout_id: uuid.UUID,
    kind: str,
    action: str,
    payload: dict[str, Any],
    detail: dict[str, Any],
    lease_seconds: float,
) -> Command:
    """Record the command and its `requested` audit event (not committed: the caller commits
    once), and answer the command, detached from the session. The command is recorded as held
    by the caller, who runs it right after the commit: no separate claim. Should the caller die
    first, the hold runs out after `lease_seconds` and the command's job, due then, runs it."""
    intent = AuditRecorder(uow, context).record(
        action=action, outcome="requested", rollout_id=rollout_id, detail=detail
    )
    await uow.session.flush()
    command = Command(
        id=uuid.uuid4(),
        kind=kind,
        rollout_id=rollout_id,
        action=action,
        payload=payload,
        anchor=None,
        status="running",
        attempts=1,
        intent_event_id=intent.id,
        actor=context.actor,
        ticket=context.ticket,
        reason=context.reason,
        request_id=context.request_id,
        result=None,
        finished_at=None,
    )
    row = {column: getattr(command, column) for column in _HELD_COLUMNS}
    await uow.session.execute(_INSERT_HELD, {**row, "lease_for": timedelta(seconds=lease_seconds)})
    # The object stands for the row it wrote, outside the session (the executor records the
    # outcome in sessions of its own). Its lease and creation time, set by the database's
    # clock, are not loaded: read from a detached object, they raise DetachedInstanceError.
    make_transient_to_detached(command)
    await defer_command(queue, uow, command.id, after_seconds=lease_seconds)
    return command
