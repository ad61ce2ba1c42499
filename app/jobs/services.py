"""What a worker's tasks work with, built once per worker process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.operations.executor import OperationExecutor


@dataclass(frozen=True)
class JobServices:
    """The executor of operations and the sweep's settling of lost creations."""

    executor: OperationExecutor
    settle_creations: Callable[[], Awaitable[object]]
