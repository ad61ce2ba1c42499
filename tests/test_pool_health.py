"""Pooled connections: pinged before use only after sitting idle (app.pool_health), so a
database restart costs at most the requests that were already under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from app import pool_health
from app.db import create_engine
from app.main import create_app
from app.simulator.state import SimulatorState
from tests.api.helpers import rollout_body
from tests.conftest import fixed_clock, make_settings

IDLE = 0.2


@pytest.fixture
async def engine(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncEngine]:
    """The service's engine, with a short idle limit so that the tests need not wait long."""
    monkeypatch.setattr(pool_health, "PING_IDLE_AFTER_SECONDS", IDLE)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def terminate(database_url: str, pid: int | None = None) -> int:
    """Kill server process `pid`, else every other client backend of the database, as a
    database restart or an administrator would; the number killed."""
    which = "pid = :pid" if pid is not None else "pid <> pg_backend_pid()"
    killer = create_sync_engine(database_url, poolclass=NullPool)
    with killer.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                " FROM pg_stat_activity WHERE datname = current_database()"
                f" AND backend_type = 'client backend' AND {which}"
            ),
            {"pid": pid},
        ).scalar_one()
    killer.dispose()
    return int(killed)


async def test_a_healthy_idle_connection_is_kept_after_its_ping(engine: AsyncEngine) -> None:
    first = await backend_pid(engine)
    await asyncio.sleep(IDLE * 1.5)

    assert await backend_pid(engine) == first


async def test_an_idle_connection_found_dead_is_replaced_before_use(
    engine: AsyncEngine, database_url: str
) -> None:
    dead = await backend_pid(engine)
    assert terminate(database_url, dead) == 1
    await asyncio.sleep(IDLE * 1.5)

    replacement = await backend_pid(engine)  # no error: the ping found it dead first

    assert replacement != dead


async def test_a_connection_killed_right_after_use_fails_once_then_the_pool_recovers(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Right after" however slow the machine: nothing here sits idle long enough to be pinged.
    monkeypatch.setattr(pool_health, "PING_IDLE_AFTER_SECONDS", 60.0)
    dead = await backend_pid(engine)
    assert terminate(database_url, dead) == 1

    with pytest.raises(DBAPIError) as failure:  # handed out unpinged: it was used just now
        await backend_pid(engine)
    assert failure.value.connection_invalidated

    assert await backend_pid(engine) not in (dead, None)


@pytest.mark.parametrize("rate_limit", [0, 600], ids=["no-rate-limit", "rate-limit"])
async def test_after_a_database_restart_the_first_request_is_served(
    clean_database: str,
    simulator: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
    rate_limit: int,
) -> None:
    """Every connection the service holds is killed while it is quiet; the next request is
    answered as if nothing happened. (With the rate limit on, its counter statement would meet
    a dead connection first and let the request through; off, the request's own read would.)"""
    monkeypatch.setattr(pool_health, "PING_IDLE_AFTER_SECONDS", IDLE)
    settings = make_settings(clean_database, rate_limit_per_minute=rate_limit)
    app = create_app(settings, simulator_state=simulator, clock=fixed_clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            created = await http.post("/v1/rollouts", json=rollout_body())
            assert created.status_code == 201, created.text
            assert terminate(clean_database) >= 1
            await asyncio.sleep(IDLE * 1.5)

            read = await http.get(f"/v1/rollouts/{created.json()['id']}")

            assert read.status_code == 200, read.text
            assert read.json()["name"] == created.json()["name"]
