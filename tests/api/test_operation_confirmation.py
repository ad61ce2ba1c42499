"""An operation ends only when Graph shows its changes: registration errors are failed items
with a hint, devices still enrolling after ENROLLMENT_CONFIRM_SECONDS are warnings, and changes
Graph never shows are not reported as succeeded."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.graph.wire import AssetState
from app.operations.confirmation import GraphView, fill_missing_enrollment, verdict
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body


async def rollout_with(client: httpx.AsyncClient, app: FastAPI) -> dict[str, Any]:
    answer = await client.post("/v1/rollouts", json=rollout_body())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def add(client: httpx.AsyncClient, rollout: dict[str, Any], **body: Any) -> dict[str, Any]:
    answer = await client.post(
        f"/v1/rollouts/{rollout['id']}/audience", json=body, headers={"Prefer": "wait=10"}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_device_with_a_registration_error_is_a_failed_item_with_a_hint(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    rollout = await rollout_with(client, app)
    good = device_ids(2, "2")
    broken = "ffff" + good[0][4:-1] + "9"  # the simulator's invalidAzureADJoin prefix

    operation = await add(client, rollout, addDevices=[*good, broken], ticket="CHG1")

    assert (operation["status"], operation["succeeded"], operation["failed"]) == (
        "partiallySucceeded",
        2,
        1,
    )
    [error] = operation["errors"]
    assert (error["deviceId"], error["change"], error["code"]) == (
        broken,
        "addMember",
        "invalidAzureADJoin",
    )
    assert "Entra joined" in error["hint"]
    assert operation["warnings"] == []
    # Graph does list it as a member: the confirmed audience shows what Graph shows.
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["audience"]["members"] == 3


def _apply_audience_changes_only(simulator: SimulatorState) -> None:
    """Apply the pending audience changes Graph accepted, leaving enrollments pending."""
    with simulator.lock:
        for change in [p for p in simulator.pending if p.description.startswith("updateAudience")]:
            simulator.pending.remove(change)
            change.apply()


@pytest.fixture
def slow_graph(app: FastAPI, simulator: SimulatorState) -> SimulatorState:
    """Graph applies 202s only when the test says so; the wait for confirmation is 0.3 s."""
    simulator.synchronous = False
    runner = app.state.services.jobs.executor
    runner.confirm_seconds = 0.3

    async def sleep(seconds: float) -> None:
        _apply_audience_changes_only(simulator)
        await asyncio.sleep(min(seconds, 0.05))

    runner.sleep = sleep
    return simulator


async def test_devices_still_enrolling_after_the_wait_are_warnings(
    client: httpx.AsyncClient, app: FastAPI, slow_graph: SimulatorState
) -> None:
    slow_graph.synchronous = True
    rollout = await rollout_with(client, app)
    slow_graph.synchronous = False
    devices = device_ids(3, "2")

    operation = await add(client, rollout, addDevices=devices)

    assert (operation["status"], operation["succeeded"], operation["failed"]) == (
        "succeeded",
        3,
        0,
    )
    assert sorted(w["deviceId"] for w in operation["warnings"]) == sorted(devices)
    assert {w["code"] for w in operation["warnings"]} == {"enrollmentPending"}
    # It says how long it waited: at least the 0.3 s allowed (more on a machine that stalled).
    waited = re.search(r"enrolling after (\d+\.\d) s", operation["warnings"][0]["message"])
    assert waited is not None and float(waited.group(1)) >= 0.3
    assert all(slow_graph.devices[d].enrollment["feature"].state == "enrolling" for d in devices)


async def test_changes_graph_never_shows_are_failed_not_succeeded(
    client: httpx.AsyncClient, app: FastAPI, slow_graph: SimulatorState
) -> None:
    slow_graph.synchronous = True
    rollout = await rollout_with(client, app)
    slow_graph.synchronous = False
    app.state.services.jobs.executor.sleep = lambda seconds: asyncio.sleep(min(seconds, 0.05))
    devices = device_ids(2, "2")

    operation = await add(client, rollout, addDevices=devices, addExclusions=device_ids(1, "3"))

    assert (operation["status"], operation["succeeded"], operation["failed"]) == ("failed", 0, 3)
    assert {e["code"] for e in operation["errors"]} == {"notConfirmed"}
    listed = (await client.get(f"/v1/rollouts/{rollout['id']}/devices")).json()["items"]
    assert listed == []


async def test_removals_are_confirmed_by_reading_the_audience_back(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client, app)
    devices = device_ids(3, "2")
    await add(client, rollout, addDevices=devices)
    reads = simulator.count("GET", "audience/members")

    operation = await add(client, rollout, removeDevices=devices[:1])

    assert (operation["status"], operation["succeeded"]) == ("succeeded", 1)
    assert simulator.count("GET", "audience/members") > reads
    listed = (await client.get(f"/v1/rollouts/{rollout['id']}/devices")).json()["items"]
    assert sorted(d["deviceId"] for d in listed) == sorted(devices[1:])


async def test_a_member_listed_without_enrollment_is_read_alone(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client, app)
    devices = device_ids(2, "2")
    await add(client, rollout, addDevices=devices)
    bare = {d: AssetState((None, None, None), ()) for d in devices}  # listed, no enrollment
    view = GraphView(members=dict(bare))
    reads = simulator.count("GET", "/updatableAssets/")

    await fill_missing_enrollment(app.state.services.graph, view, devices[:1], "feature")

    assert simulator.count("GET", "/updatableAssets/") == reads + 1
    assert verdict("addMember", devices[0], view, "feature").status == "succeeded"
    assert verdict("addMember", devices[1], view, "feature").status is None
