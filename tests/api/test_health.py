"""Liveness and readiness against real PostgreSQL: ready, schema behind, database down."""

from __future__ import annotations

import logging
import shutil
import uuid

import httpx
import pytest

from app.embedded_db import stop_embedded_postgres
from app.main import create_app
from app.simulator.state import SimulatorState
from tests.conftest import make_settings
from tests.db_server import REPO, fresh_database


async def _get(app_settings: object, path: str) -> httpx.Response:
    application = create_app(app_settings)  # type: ignore[arg-type]
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get(path)


async def test_healthz_answers_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_readyz_is_ready_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "graph": "ok"},
    }


async def test_readyz_names_a_schema_behind_head() -> None:
    with fresh_database() as url:  # created but never migrated
        response = await _get(make_settings(url), "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["type"] == "urn:problem:not-ready"
    assert body["checks"] == {"database": "ok", "schema": "failed", "graph": "ok"}
    assert "python -m app migrate" in body["detail"]


async def test_readyz_says_when_the_database_is_unreachable() -> None:
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"
    response = await _get(make_settings(unreachable), "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "failed"
    assert "could not be reached" in body["detail"]


async def test_embedded_database_is_started_and_migrated_when_no_url_is_set() -> None:
    data_dir = REPO / ".data" / f"embedded-{uuid.uuid4().hex[:8]}"
    try:
        settings = make_settings(None, data_dir=data_dir)  # type: ignore[arg-type]
        response = await _get(settings, "/readyz")
        assert response.json() == {
            "status": "ready",
            "checks": {"database": "ok", "schema": "ok", "graph": "ok"},
        }
        assert (data_dir / "postgres" / "PG_VERSION").is_file()
    finally:
        stop_embedded_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_readyz_says_when_no_graph_token_can_be_obtained(clean_database: str) -> None:
    simulator = SimulatorState(client_secret="not-what-the-service-sends")
    application = create_app(make_settings(clean_database), simulator_state=simulator)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "schema": "ok", "graph": "failed"}
    assert "no token for Microsoft Graph" in body["detail"]


async def test_readyz_logs_no_alembic_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(2):
        assert (await client.get("/readyz")).status_code == 200
    assert [r.name for r in caplog.records].count("app.access") == 2  # INFO lines are captured
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
