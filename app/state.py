"""What the lifespan builds once and every request shares (typed, not a bag of attributes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.settings import Settings

if TYPE_CHECKING:
    import procrastinate

    from app.auth.authenticator import Authenticator
    from app.catalog.service import CatalogService
    from app.commands.executor import CommandExecutor
    from app.graph.client import GraphClient
    from app.idempotency.store import IdempotencyStore
    from app.jobs.services import JobServices
    from app.operations.tracking import OperationTracker
    from app.ratelimit.limiter import CallerRateLimiter


def utc_now() -> datetime:
    """The service's clock."""
    return datetime.now(UTC)


@dataclass
class AppState:
    """Long-lived resources of one process."""

    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    graph: GraphClient
    catalog: CatalogService
    queue: procrastinate.App
    operations: OperationTracker
    commands: CommandExecutor
    rate_limiter: CallerRateLimiter
    auth: Authenticator
    idempotency: IdempotencyStore
    simulator: Any = None
    # The services of the worker running inside this process (RUN_WORKER=true), else None.
    jobs: JobServices | None = None
    clock: Callable[[], datetime] = field(default=utc_now)
