"""What a worker's tasks work with, built once per worker process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.commands.executor import CommandExecutor
from app.operations.executor import OperationExecutor


@dataclass(frozen=True)
class JobServices:
    """The executor of operations, and what the periodic sweep settles and checks."""

    executor: OperationExecutor
    commands: CommandExecutor
    settle_creations: Callable[[], Awaitable[object]]
    reconcile_drift: Callable[[], Awaitable[int]]
    reconcile_interval_seconds: float
    # Deletes what has expired (Idempotency-Keys past their 24 hours); returns how many rows.
    purge_expired: Callable[[], Awaitable[int]]
    # Expires the changes that waited for approval longer than APPROVAL_TTL; returns how many.
    expire_changes: Callable[[], Awaitable[int]]
    # Set when the worker is asked to stop (SIGTERM): operations hand their job back.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
