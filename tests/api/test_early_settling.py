"""Added members are settled while Graph's listing is still being read
(app.operations.early_settling): at EARLY_BATCH listed devices or more, their items are marked
before the last page is read; the outcome is the one a settle after the whole reading gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.operations.early_settling import EARLY_BATCH
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body

MEMBERS = "/audience/members"


@contextmanager
def pages_read_at_each_mark(engine: AsyncEngine, simulator: SimulatorState) -> Iterator[list[int]]:
    """For every statement marking items succeeded, how many member pages Graph had served."""
    seen: list[int] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if (
            statement.startswith("UPDATE operation_items")
            and isinstance(parameters, dict)
            and parameters.get("new_status") == "succeeded"
        ):
            seen.append(len(simulator.find("GET", path_contains=MEMBERS)))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def add_devices(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState, devices: list[str]
) -> tuple[dict[str, Any], list[int], str]:
    created = await client.post("/v1/rollouts", json=rollout_body())
    assert created.status_code == 201, created.text
    rollout_id = created.json()["id"]
    simulator.clear_calls()
    # Each call takes a while, as over a network: the reading of the pages lets others run.
    simulator.faults.latency_seconds = 0.02
    engine: AsyncEngine = app.state.services.sessionmaker.kw["bind"]
    with pages_read_at_each_mark(engine, simulator) as marks:
        answer = await client.post(
            f"/v1/rollouts/{rollout_id}/audience",
            json={"addDevices": devices, "ticket": "CHG1"},
            headers={"Prefer": "wait=60"},
        )
    assert answer.status_code == 200, answer.text
    return dict(answer.json()), marks, rollout_id


async def test_a_large_addition_is_settled_while_the_members_are_read(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    good = device_ids(2 * EARLY_BATCH + 300, "2")
    # The simulator's invalidAzureADJoin prefix, spread over the listing's pages.
    broken = ["ffff" + device[4:] for device in good[5::400]]
    operation, marks, rollout_id = await add_devices(client, app, simulator, good + broken)
    pages = len(simulator.find("GET", path_contains=MEMBERS))

    assert pages >= (len(good) + len(broken)) // simulator.page_size
    # Batches were settled before the last page was read (two, unless a settle outlasted ten
    # pages); the rest after it.
    assert 1 <= len([m for m in marks if m < pages]) <= 2, (marks, pages)
    assert marks == sorted(marks) and marks[-1] == pages
    assert (operation["status"], operation["succeeded"], operation["failed"]) == (
        "partiallySucceeded",
        len(good),
        len(broken),
    )
    assert sorted(e["deviceId"] for e in operation["errors"]) == sorted(broken)
    assert {e["code"] for e in operation["errors"]} == {"invalidAzureADJoin"}
    async with app.state.services.sessionmaker() as session:
        counted = await session.execute(
            text("SELECT status, count(*) FROM operation_items GROUP BY 1")
        )
        items = {status: count for status, count in counted.all()}
        mirrored = await session.scalar(
            text("SELECT count(*) FROM audience_devices WHERE rollout_id = :r"),
            {"r": rollout_id},
        )
    assert items == {"succeeded": len(good), "failed": len(broken)}
    # Graph lists every one of them as a member, the broken ones too: so does the mirror.
    assert mirrored == len(good) + len(broken)
    got = (await client.get(f"/v1/rollouts/{rollout_id}")).json()
    assert got["audience"]["members"] == len(good) + len(broken)


async def test_a_smaller_addition_is_settled_after_the_whole_reading(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    operation, marks, _ = await add_devices(client, app, simulator, device_ids(EARLY_BATCH - 1))
    pages = len(simulator.find("GET", path_contains=MEMBERS))

    assert pages >= 2
    assert marks == [pages]
    assert (operation["status"], operation["succeeded"]) == ("succeeded", EARLY_BATCH - 1)
