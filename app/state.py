"""What the lifespan builds once and every request shares (typed, not a bag of attributes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.settings import Settings

if TYPE_CHECKING:
    from app.catalog.service import CatalogService
    from app.graph.client import GraphClient
    from app.operations.runner import OperationRunner


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
    operations: OperationRunner
    simulator: Any = None
    clock: Callable[[], datetime] = field(default=utc_now)
