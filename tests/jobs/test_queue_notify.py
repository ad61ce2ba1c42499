"""Workers are woken only for jobs they can take now (migration 0015): a command's safety-net
job, due after its holder's lease, is queued without a NOTIFY; a job due at once
still wakes them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.jobs.tasks import EXECUTE_COMMAND
from app.settings import Settings
from tests.api.helpers import rollout_body

CHANNEL = "procrastinate_any_queue_v1"


@pytest.fixture
async def listener(settings: Settings) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute(f"LISTEN {CHANNEL}")
        yield connection


async def inserted_jobs(connection: psycopg.AsyncConnection[Any], seconds: float) -> list[int]:
    """The ids of the jobs whose insertion was notified within `seconds`."""
    found = []
    async for notice in connection.notifies(timeout=seconds):
        payload = json.loads(notice.payload)
        if payload["type"] == "job_inserted":
            found.append(int(payload["job_id"]))
    return found


async def jobs(app: FastAPI) -> dict[str, tuple[int, bool]]:
    """Each queued job's task name, id and whether it is scheduled for later."""
    async with app.state.services.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT task_name, id, scheduled_at > now() FROM procrastinate_jobs"
                " WHERE task_name NOT LIKE '%sweep'"
            )
        )
        return {name: (job_id, later) for name, job_id, later in rows.all()}


async def test_a_commands_safety_net_job_wakes_no_worker(
    app: FastAPI, client: httpx.AsyncClient, listener: psycopg.AsyncConnection[Any]
) -> None:
    created = await client.post("/v1/rollouts", json=rollout_body())
    assert created.status_code == 201, created.text
    [(command_job, later)] = (await jobs(app)).values()
    assert later  # queued, for after the lease
    # (The worker's periodic sweep, due at once, may be notified meanwhile.)
    assert command_job not in await inserted_jobs(listener, 0.5)


async def test_a_job_due_now_wakes_the_workers_and_one_due_later_does_not(
    app: FastAPI, listener: psycopg.AsyncConnection[Any]
) -> None:
    # On a queue no worker takes, so that both jobs stay where they were put.
    task = app.state.services.queue.tasks[f"autopatch:{EXECUTE_COMMAND}"]
    later = await task.configure(queue="notify-test", schedule_in={"seconds": 60}).defer_async(
        command_id="later"
    )
    now = await task.configure(queue="notify-test").defer_async(command_id="now")
    notified = await inserted_jobs(listener, 1.0)
    assert now in notified
    assert later not in notified
