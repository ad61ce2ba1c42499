"""When Graph refuses, is unavailable, or will not give the service a token: the caller gets a
problem naming Graph's error and request id (never a 500), the audit log has the intent and the
failure, and the rollout's recorded state is what Graph really holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.main import create_app
from app.operations.models import Operation
from app.rollouts.models import Rollout
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.api.helpers import audit_trail, device_ids, rollout_body, rollout_row, table_counts
from tests.conftest import NOW, fixed_clock


def trail_of(events: list[Any], *actions: str) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in events if e.action in actions]


async def test_graph_refusing_the_create_is_502_and_the_rollout_failed(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    simulator.faults.inject(
        400,
        method="POST",
        path_contains="/deployments",
        code="BadRequest",
        message="The catalog entry cannot be deployed to this tenant.",
    )

    answer = await client.post(
        "/v1/rollouts",
        json=rollout_body(devices=device_ids(3)),
        headers={"X-Request-ID": "create-refused"},
    )

    assert answer.status_code == 502, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    [refused] = simulator.find("POST", "/deployments")
    problem = answer.json()
    assert problem["type"] == "urn:problem:graph-error"
    assert problem["status"] == 502
    assert problem["graphError"] == "BadRequest"
    assert problem["graphRequestId"] == refused.request_id
    assert problem["requestId"] == "create-refused"
    assert "cannot be deployed to this tenant" in problem["detail"]
    assert refused.client_request_id == "create-refused"

    async with app.state.services.sessionmaker() as session:
        [row] = (await session.execute(select(Rollout))).scalars()
        [operation] = (await session.execute(select(Operation))).scalars()
    assert (row.status, row.graph_deployment_id) == ("failed", None)
    assert problem["rolloutId"] == str(row.id)  # the failed rollout stays readable
    trail = await audit_trail(app, str(row.id))
    assert trail_of(trail, "rollout.create") == [
        ("rollout.create", "requested"),
        ("rollout.create", "failed"),
    ]
    failed = trail[-1]
    assert refused.request_id in failed.graph_request_ids
    assert failed.detail["graphError"] == "BadRequest"
    assert failed.request_id == "create-refused"
    # The devices given with the create are never sent: their operation ends as not attempted.
    assert simulator.count("POST", "enrollAssets") == simulator.count("POST", "updateAudience") == 0
    polled = (await client.get(f"/v1/operations/{operation.id}")).json()
    assert (polled["status"], polled["failed"]) == ("failed", 3)
    assert {e["code"] for e in polled["errors"]} == {"notAttempted"}

    simulator.clear_calls()
    got = (await client.get(f"/v1/rollouts/{row.id}")).json()
    assert got["state"]["effective"] == "failed"
    assert simulator.calls == []
    refused_pause = await client.post(f"/v1/rollouts/{row.id}/pause")
    assert refused_pause.status_code == 409
    assert refused_pause.json()["type"] == "urn:problem:rollout-not-active"


async def test_graph_unavailable_on_pause_is_503_and_nothing_changes(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    created = (await client.post("/v1/rollouts", json=rollout_body())).json()
    deployment_id = created["graphDeploymentId"]
    simulator.faults.inject(503, count=1000, retry_after=0, method="PATCH")

    answer = await client.post(f"/v1/rollouts/{created['id']}/pause", json={"ticket": "CHG5"})

    simulator.faults.clear()
    assert answer.status_code == 503, answer.text
    problem = answer.json()
    assert problem["type"] == "urn:problem:graph-unavailable"
    assert problem["graphError"] == "ServiceUnavailable"
    attempts = simulator.find("PATCH", f"/deployments/{deployment_id}")
    assert {c.status for c in attempts} == {503}
    assert len(attempts) == app.state.services.settings.graph_max_attempts
    assert problem["graphRequestId"] == attempts[-1].request_id
    assert answer.headers["retry-after"] == "1"

    trail = await audit_trail(app, created["id"])
    assert trail_of(trail, "rollout.pause") == [
        ("rollout.pause", "requested"),
        ("rollout.pause", "failed"),
    ]
    assert trail[-1].ticket == "CHG5"
    assert trail[-1].graph_request_ids == [c.request_id for c in attempts]
    assert trail[-1].detail["graphStatus"] == 503
    assert simulator.deployments[deployment_id].requested == "none"
    assert (await rollout_row(app, created["id"])).graph_state["requested"] == "none"
    got = (await client.get(f"/v1/rollouts/{created['id']}")).json()
    assert (got["state"]["effective"], got["state"]["requested"]) == ("offering", "none")


@pytest.fixture
def wrong_secret_simulator() -> SimulatorState:
    """A simulator whose app registration has another secret than the one the service sends."""
    state = SimulatorState(synchronous=True, client_secret="not-the-service-secret")
    state.clock.set(NOW)
    return state


@pytest.fixture
async def locked_out_client(
    settings: Settings, wrong_secret_simulator: SimulatorState
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    application = create_app(settings, simulator_state=wrong_secret_simulator, clock=fixed_clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, application


async def test_no_graph_token_is_503_graph_authentication_and_changes_nothing(
    locked_out_client: tuple[httpx.AsyncClient, FastAPI],
    wrong_secret_simulator: SimulatorState,
) -> None:
    client, app = locked_out_client

    for method, url, body in (
        ("POST", "/v1/rollouts", rollout_body(devices=device_ids(2))),
        ("GET", "/v1/catalog/feature-updates", None),
    ):
        answer = await client.request(method, url, json=body)
        assert answer.status_code == 503, (url, answer.text)
        problem = answer.json()
        assert problem["type"] == "urn:problem:graph-authentication", url
        assert problem["graphError"] == "invalid_client"
        assert "not-the-service-secret" not in answer.text

    assert await table_counts(app) == (0, 0)
    assert wrong_secret_simulator.writes() == []
    assert wrong_secret_simulator.find(path_contains="/beta/") == []


async def test_a_token_refused_mid_write_is_503_and_audited_as_failed(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    created = (await client.post("/v1/rollouts", json=rollout_body())).json()
    deployment_id = created["graphDeploymentId"]
    # Graph stops accepting the cached token on the DELETE, and the token endpoint then
    # refuses to issue a new one.
    simulator.faults.inject(401, method="DELETE", code="InvalidAuthenticationToken")
    simulator.faults.inject(401, path_contains="/oauth2/v2.0/token")

    deleted = await client.delete(f"/v1/rollouts/{created['id']}", params={"ticket": "CHG6"})

    assert deleted.status_code == 503, deleted.text
    assert deleted.json()["type"] == "urn:problem:graph-authentication"
    assert [c.status for c in simulator.find("DELETE")] == [401]
    assert deployment_id in simulator.deployments
    assert (await rollout_row(app, created["id"])).status == "active"
    trail = await audit_trail(app, created["id"])
    assert trail_of(trail, "rollout.delete") == [
        ("rollout.delete", "requested"),
        ("rollout.delete", "failed"),
    ]
    assert trail[-1].ticket == "CHG6"
    assert trail[-1].detail["graphStatus"] == 401
    # Once tokens are issued again, the same request goes through.
    again = await client.delete(f"/v1/rollouts/{created['id']}", params={"ticket": "CHG6"})
    assert again.status_code == 200, again.text
    assert deployment_id not in simulator.deployments


async def test_graph_refusing_a_settings_change_is_502_and_keeps_the_old_settings(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    created = (
        await client.post(
            "/v1/rollouts", json=rollout_body(schedule={"waves": {"devicesPerWave": 50}})
        )
    ).json()
    simulator.faults.inject(400, method="PATCH", code="BadRequest", message="No.")

    answer = await client.patch(
        f"/v1/rollouts/{created['id']}",
        json={"name": "renamed", "schedule": {"waves": {"devicesPerWave": 500}}},
    )

    assert answer.status_code == 502, answer.text
    assert answer.json()["graphError"] == "BadRequest"
    [refused] = simulator.find("PATCH")
    assert answer.json()["graphRequestId"] == refused.request_id
    got = (await client.get(f"/v1/rollouts/{created['id']}")).json()
    assert (got["name"], got["schedule"]) == (created["name"], created["schedule"])
    rollout = simulator.deployments[created["graphDeploymentId"]]
    assert rollout.settings["schedule"]["gradualRollout"]["devicesPerOffer"] == 50
    trail = await audit_trail(app, created["id"])
    assert trail_of(trail, "rollout.update") == [
        ("rollout.update", "requested"),
        ("rollout.update", "failed"),
    ]
    assert trail[-1].graph_request_ids == [refused.request_id]
