"""Running a command from the request that asked for it: one commit, then the executor."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from app.change_context import ChangeContext
from app.commands.service import enqueue
from app.rollouts.models import Rollout
from app.rollouts.service import RolloutServices


async def run_command(
    services: RolloutServices,
    context: ChangeContext,
    rollout: Rollout,
    *,
    kind: str,
    action: str,
    payload: dict[str, Any],
    detail: dict[str, Any],
    with_intent: Callable[[], Awaitable[None]] | None = None,
) -> uuid.UUID:
    """Record the command with its intent and commit (the request's one commit), then execute
    it now. GraphError if Graph refused (recorded). The executor changes the rollout's row in
    its own transaction: `rollout` is as it was before until the caller reads it again."""
    commands = services.commands
    assert commands is not None and services.queue is not None
    command = await enqueue(
        services.uow,
        services.queue,
        context,
        rollout_id=rollout.id,
        kind=kind,
        action=action,
        payload=payload,
        detail=detail,
        lease_seconds=commands.lease_seconds,
    )
    if with_intent is not None:
        await with_intent()  # rows that must be committed with the intent
    await services.uow.commit()
    await commands.execute_held(command, rollout, context)
    return command.id
