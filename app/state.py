"""What the lifespan builds once and every request shares (typed, not a bag of attributes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.settings import Settings


@dataclass
class AppState:
    """Long-lived resources of one process."""

    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    graph: Any = None
    simulator: Any = None
