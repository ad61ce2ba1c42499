"""Asking for a Graph write: the command row, its audit intent and its safety-net job, in the
request's one transaction."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

import procrastinate
from sqlalchemy import ColumnElement, func

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.commands.models import Command
from app.jobs.queue import defer_command
from app.unit_of_work import UnitOfWork


@functools.lru_cache(maxsize=8)
def _lease_from_now(lease_seconds: float) -> ColumnElement[datetime]:
    """now() plus the lease, by the database's clock; built once per lease length."""
    return func.now() + timedelta(seconds=lease_seconds)


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
    once). The command is recorded as held by the caller, who runs it right after the commit:
    no separate claim. Should the caller die first, the hold runs out after `lease_seconds` and
    the command's job, due then, runs it."""
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
        status="running",
        attempts=1,
        lease_until=_lease_from_now(lease_seconds),
        intent_event_id=intent.id,
        actor=context.actor,
        ticket=context.ticket,
        reason=context.reason,
        request_id=context.request_id,
    )
    uow.session.add(command)
    await uow.session.flush()
    await defer_command(queue, uow, command.id, after_seconds=lease_seconds)
    return command
