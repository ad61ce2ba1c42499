"""`?dryRun=true`: every check of the real request runs, nothing is written, no Graph write is
sent, and the plan is exactly what the real request then sends (compared with the simulator's
record of the calls it received)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.review.planning_graph import NEW_AUDIENCE_ID, NEW_DEPLOYMENT_ID, PlannedCall, summarise
from app.simulator.calls import GRAPH_PREFIX
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body

TABLES = ("rollouts", "audit_events", "commands", "operations", "operation_items", "changes")


async def row_counts(app: FastAPI) -> dict[str, int]:
    """Rows in every table a change writes, plus the job queue."""
    async with app.state.services.sessionmaker() as session:
        counts = {
            t: int(await session.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES
        }
        counts["jobs"] = int(
            await session.scalar(
                text("SELECT count(*) FROM procrastinate_jobs WHERE task_name NOT LIKE '%sweep'")
            )
            or 0
        )
        return counts


async def dry_run(
    app: FastAPI,
    client: httpx.AsyncClient,
    simulator: SimulatorState,
    method: str,
    url: str,
    body: Any = None,
) -> dict[str, Any]:
    """Send the request as a dry run: 200 with a plan, no Graph write sent, no row written."""
    writes, before = len(simulator.writes()), await row_counts(app)
    answer = await client.request(method, url, params={"dryRun": "true"}, json=body)
    assert answer.status_code == 200, (url, answer.text)
    assert answer.json()["dryRun"] is True
    assert len(simulator.writes()) == writes, url
    assert await row_counts(app) == before, url
    return dict(answer.json())


def assert_plan_was_sent(
    simulator: SimulatorState, plan: list[dict[str, Any]], ids: dict[str, str] | None = None
) -> None:
    """The Graph writes the simulator received are the plan: the same kinds of call in the same
    order of first appearance, as many calls naming as many devices, and the planned body among
    the bodies sent (chunks run concurrently, so any chunk may arrive first). `ids` maps the ids
    Graph assigned to the dry run's stand-ins."""

    def stand_in(value: str) -> str:
        for real, placeholder in (ids or {}).items():
            value = value.replace(real, placeholder)
        return value

    calls = [
        PlannedCall(
            c.method, "/" + stand_in(c.path.removeprefix(GRAPH_PREFIX)), _replace(c.body, stand_in)
        )
        for c in simulator.writes()
        if c.status < 400
    ]
    steps = summarise(calls)
    shape = [(s.method, s.path, s.calls, s.devices) for s in steps]
    assert shape == [(p["method"], p["path"], p["calls"], p["devices"]) for p in plan]
    for planned in plan:
        sent = [c.body for c in calls if (c.method, c.path) == (planned["method"], planned["path"])]
        assert planned["body"] in sent, planned["path"]


async def assert_real_request_sends_the_plan(
    app: FastAPI,
    client: httpx.AsyncClient,
    simulator: SimulatorState,
    plan: list[dict[str, Any]],
    url: str,
    body: dict[str, Any],
    status: int,
) -> None:
    """POST the request for real, wait for its operation, and check Graph received the plan."""
    real = await client.post(url, json=body)
    assert real.status_code == status, real.text
    await app.state.services.operations.idle()
    assert_plan_was_sent(simulator, plan)


def _replace(value: Any, stand_in: Any) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, stand_in) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, stand_in) for v in value]
    return stand_in(value) if isinstance(value, str) else value


async def test_dry_run_of_a_create_sends_and_writes_nothing_and_plans_what_runs(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    body = rollout_body(devices=device_ids(450), exclusions=device_ids(3, "2"))
    answer = await dry_run(app, client, simulator, "POST", "/v1/rollouts", body)
    assert answer["approvalRequired"] is False

    steps = [(s["method"], s["path"].rsplit("/", 1)[-1], s["calls"]) for s in answer["plan"]]
    assert steps == [
        ("POST", "deploymentAudiences", 1),
        ("POST", "deployments", 1),
        ("POST", "microsoft.graph.windowsUpdates.enrollAssets", 3),
        ("POST", "microsoft.graph.windowsUpdates.updateAudience", 3),
    ]
    assert answer["plan"][2]["devices"] == 450
    assert answer["plan"][3]["devices"] == 453
    events = [(e["action"], e["outcome"]) for e in answer["auditEvents"]]
    assert ("rollout.create", "requested") in events
    assert ("audience.update", "requested") in events

    real = await client.post("/v1/rollouts", json=body)
    assert real.status_code == 201, real.text
    await app.state.services.operations.idle()
    rollout = real.json()
    deployment_id = rollout["graphDeploymentId"]
    audience_id = simulator.deployments[deployment_id].audience_id
    stand_ins = {deployment_id: NEW_DEPLOYMENT_ID, audience_id: NEW_AUDIENCE_ID}
    assert_plan_was_sent(simulator, answer["plan"], stand_ins)


async def test_dry_run_runs_the_real_checks(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    before = await row_counts(app)
    unknown = rollout_body(update={"kind": "feature", "version": "Windows 12, version 30H2"})
    refused = await client.post("/v1/rollouts?dryRun=true", json=unknown)
    assert refused.status_code == 422
    assert refused.json()["type"] == "urn:problem:unknown-update"
    assert simulator.writes() == [] and await row_counts(app) == before


@pytest.fixture
async def rollout(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post("/v1/rollouts", json=rollout_body())
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_dry_runs_of_patch_and_pause_match_the_real_requests(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState, rollout: dict[str, Any]
) -> None:
    url = f"/v1/rollouts/{rollout['id']}"
    changes = (
        (
            "PATCH",
            url,
            {"monitoring": [{"signal": "rollback", "thresholdPercent": 5, "action": "pause"}]},
        ),
        ("POST", f"{url}/pause", {"ticket": "CHG1", "reason": "hold"}),
        ("POST", f"{url}/resume", None),
        ("DELETE", url, None),
    )
    for method, path, body in changes:
        simulator.clear_calls()
        plan = (await dry_run(app, client, simulator, method, path, body))["plan"]
        real = await client.request(method, path, json=body)
        assert real.status_code == 200, (path, real.text)
        assert_plan_was_sent(simulator, plan)
        assert len(plan) == 1


async def test_a_no_op_dry_run_plans_nothing(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState, rollout: dict[str, Any]
) -> None:
    assert (await client.post(f"/v1/rollouts/{rollout['id']}/pause")).status_code == 200
    simulator.clear_calls()
    dry = await client.post(f"/v1/rollouts/{rollout['id']}/pause?dryRun=true")
    assert dry.status_code == 200
    assert dry.json()["plan"] == [] and dry.json()["auditEvents"] == []


async def test_dry_run_of_a_10000_device_audience_change(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState, rollout: dict[str, Any]
) -> None:
    url = f"/v1/rollouts/{rollout['id']}/audience"
    body = {"addDevices": device_ids(10_000), "ticket": "CHG0012399"}
    simulator.clear_calls()
    plan = (await dry_run(app, client, simulator, "POST", url, body))["plan"]
    assert [(s["calls"], s["devices"]) for s in plan] == [(50, 10_000), (50, 10_000)]
    await assert_real_request_sends_the_plan(app, client, simulator, plan, url, body, 202)


async def test_a_dry_run_leaves_its_idempotency_key_free_for_the_real_request(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    key = {"Idempotency-Key": "create-pilot-ring-1"}
    dry = await client.post("/v1/rollouts?dryRun=true", json=rollout_body(), headers=key)
    assert dry.status_code == 200 and dry.json()["dryRun"] is True
    real = await client.post("/v1/rollouts", json=rollout_body(), headers=key)
    assert real.status_code == 201, real.text  # carried out, not the dry run replayed
    assert "Idempotent-Replayed" not in real.headers
    again = await client.post("/v1/rollouts", json=rollout_body(), headers=key)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == real.json()
    assert (await row_counts(app))["rollouts"] == 1


async def test_dry_run_of_an_archive_plans_the_release_of_its_held_devices(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    members = device_ids(250)
    created = await client.post("/v1/rollouts", json=rollout_body(devices=members))
    assert created.status_code == 201, created.text
    await app.state.services.operations.idle()
    url = f"/v1/rollouts/{created.json()['id']}/archive"
    body = {"releaseDevices": True, "ticket": "CHG0012400"}
    simulator.clear_calls()
    plan = (await dry_run(app, client, simulator, "POST", url, body))["plan"]
    assert [(s["method"], s["path"].rsplit(".", 1)[-1], s["calls"]) for s in plan] == [
        ("PATCH", f"/admin/windows/updates/deployments/{created.json()['graphDeploymentId']}", 1),
        ("POST", "unenrollAssets", 2),
    ]
    assert plan[1]["devices"] == 250
    await assert_real_request_sends_the_plan(app, client, simulator, plan, url, body, 200)


async def test_dry_run_of_a_release(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    url = "/v1/devices/release"
    body = {"category": "feature", "devices": device_ids(3), "ticket": "CHG0012450"}
    plan = (await dry_run(app, client, simulator, "POST", url, body))["plan"]
    [step] = plan
    assert step["body"]["updateCategory"] == "feature" and step["devices"] == 3
    await assert_real_request_sends_the_plan(app, client, simulator, plan, url, body, 202)
