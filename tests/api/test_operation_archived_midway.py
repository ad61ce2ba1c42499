"""A rollout archived while its operation is being sent: the chunk in flight finishes, and every
later chunk is refused without a Graph call, because whether the rollout still accepts changes
is read afresh before each chunk.

The first chunk's enrollment is held (Graph has applied it, its answer is on its way) until the
archive has been answered: the archive lands between the two chunks however slow the machine,
where a fixed delay let a slow archive land after the second chunk had gone out."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.operations.models import OperationItem
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, hold_graph_call, rollout_body
from tests.conftest import make_settings


@pytest.fixture
def settings(clean_database: str) -> Settings:
    """One lane: chunks go strictly one after another."""
    return make_settings(clean_database, graph_concurrency=1)


async def enroll_intents(app: FastAPI, rollout_id: str) -> int:
    async with app.state.services.sessionmaker() as session:
        found = await session.scalars(
            select(AuditEvent.id).where(
                AuditEvent.rollout_id == uuid.UUID(rollout_id),
                AuditEvent.action == "devices.enroll",
                AuditEvent.outcome == "requested",
            )
        )
        return len(found.all())


async def test_chunks_after_an_archive_are_not_sent(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = await client.post("/v1/rollouts", json=rollout_body())
    rollout = created.json()
    worker_graph = app.state.services.jobs.executor.graph
    applied, release = hold_graph_call(
        monkeypatch, worker_graph, "enroll_assets_chunk", answered=True
    )
    simulator.clear_calls()
    devices = device_ids(600)  # three chunks of 200

    accepted = await client.post(
        f"/v1/rollouts/{rollout['id']}/audience", json={"addDevices": devices}
    )
    assert accepted.status_code == 202, accepted.text
    try:
        async with asyncio.timeout(30):
            await applied.wait()
        assert await enroll_intents(app, rollout["id"]) == 1  # only the first chunk is out
        async with asyncio.timeout(30):  # the archive waits for nothing the held chunk holds
            archived = await client.post(f"/v1/rollouts/{rollout['id']}/archive", json={})
    finally:
        release.set()
    assert archived.status_code == 200, archived.text
    await app.state.services.operations.idle()

    audience_calls = [c for c in simulator.writes() if c.path.endswith("updateAudience")]
    assert [len(c.body["addMembers"]) for c in audience_calls] == [200]
    assert sorted(d["id"] for d in audience_calls[0].body["addMembers"]) == sorted(devices[:200])
    async with app.state.services.sessionmaker() as session:
        items = (
            await session.scalars(
                select(OperationItem)
                .where(OperationItem.operation_id == uuid.UUID(accepted.json()["id"]))
                .order_by(OperationItem.seq)
            )
        ).all()
    later = items[200:]
    assert {(i.status, i.error_code) for i in later} == {("failed", "notAttempted")}
    assert all("archived" in (i.error_message or "") for i in later)
    assert all(i.status != "pending" for i in items[:200])
