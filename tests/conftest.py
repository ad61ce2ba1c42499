"""Shared fixtures: a real, migrated PostgreSQL database and the app served in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from app.db import Base
from app.main import create_app
from app.migrate import upgrade_to_head
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.db_server import fresh_database


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """One fresh database per test session, brought to head by alembic as in production."""
    with fresh_database() as url:
        upgrade_to_head(url)
        yield url


@pytest.fixture
def clean_database(database_url: str) -> Iterator[str]:
    """The session database, emptied after the test so every test starts from nothing."""
    yield database_url
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    tables += ["procrastinate_events", "procrastinate_jobs", "procrastinate_workers"]
    if tables:
        engine = create_engine(database_url)
        with engine.begin() as connection:
            # The audit log refuses TRUNCATE through triggers; tests reset it as a superuser
            # does, with ordinary triggers off for this transaction only.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            quoted = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app: the test database, the simulator, console logs."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "graph_mode": "simulator",
        "log_format": "console",
        "log_level": "warning",
        # The worker's periodic drift check would read Graph behind the tests' backs.
        "reconcile_interval_seconds": 10**9,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(clean_database: str) -> Settings:
    return make_settings(clean_database)


# Tests run at a fixed "now" so that catalog deployability does not drift with the calendar.
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture
def simulator() -> SimulatorState:
    """The Graph simulator behind the app: synchronous (202s apply at once), its clock at NOW."""
    state = SimulatorState(synchronous=True)
    state.clock.set(NOW)
    return state


@pytest.fixture
async def app(settings: Settings, simulator: SimulatorState) -> AsyncIterator[FastAPI]:
    """The service with its lifespan running, against the simulator, at NOW."""
    application = create_app(settings, simulator_state=simulator, clock=fixed_clock)
    async with application.router.lifespan_context(application):
        yield application
        async with asyncio.timeout(30):
            await application.state.services.operations.idle()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
