"""The /_simulator admin API: config, clock, faults, calls, reset and hooks over HTTP."""

from __future__ import annotations

import httpx

from app.simulator import SimulatorState
from tests.simulator.support import ROOT, create_deployment, devices, guid, state_of

ADMIN = "/_simulator"


async def test_admin_needs_no_token_and_is_not_recorded(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    response = await anon.get(f"{ADMIN}/config")
    assert response.status_code == 200
    assert response.json()["pageSize"] == 100
    assert response.json()["maxIdsPerCall"] == 200
    assert state.calls == []


async def test_config_patch_changes_the_state(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    response = await anon.patch(
        f"{ADMIN}/config",
        json={
            "synchronous": True,
            "pageSize": 7,
            "emptyAudience404": False,
            "asyncDelaySeconds": 1.5,
        },
    )
    assert response.status_code == 200
    assert (
        state.synchronous,
        state.page_size,
        state.empty_audience_404,
        state.async_delay_seconds,
    ) == (True, 7, False, 1.5)
    assert (await anon.patch(f"{ADMIN}/config", json={"pageSize": "x"})).status_code == 400
    assert (await anon.patch(f"{ADMIN}/config", json={"nope": 1})).status_code == 400
    assert (await anon.post(f"{ADMIN}/synchronous", json={"synchronous": False})).json() == {
        "synchronous": False
    }
    assert state.synchronous is False


async def test_clock_set_and_advance_apply_pending_changes(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client)
    await client.post(
        f"{ROOT}/deployments/{dep['id']}/audience/updateAudience",
        json={"addMembers": devices(guid(1))},
    )
    response = await anon.post(f"{ADMIN}/clock", json={"advanceSeconds": 5})
    assert response.json() == {"now": "2026-11-28T12:00:05Z", "frozen": True}
    assert state.members(state.deployments[dep["id"]].audience_id) == [guid(1)]
    response = await anon.post(f"{ADMIN}/clock", json={"now": "2027-01-01T00:00:00Z"})
    assert response.json()["now"] == "2027-01-01T00:00:00Z"
    assert (await anon.post(f"{ADMIN}/clock", json={"now": "soon"})).status_code == 400


async def test_apply_flushes_pending_changes(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    await client.post(
        f"{ROOT}/updatableAssets/enrollAssets",
        json={"updateCategory": "feature", "assets": devices(guid(1))},
    )
    assert (await anon.post(f"{ADMIN}/apply")).json() == {"applied": 1}
    assert state.devices[guid(1)].enrollment["feature"].state == "enrolled"


async def test_faults_over_http(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    response = await anon.patch(
        f"{ADMIN}/faults", json={"throttleRate": 1, "retryAfterSeconds": 9, "maxIdsPerCall": 50}
    )
    assert response.json()["throttleRate"] == 1
    assert state.max_ids_per_call == 50
    throttled = await client.get(f"{ROOT}/deployments")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "9")
    assert (await anon.delete(f"{ADMIN}/faults")).status_code == 204
    assert (await client.get(f"{ROOT}/deployments")).status_code == 200
    assert (await anon.patch(f"{ADMIN}/faults", json={"throttleRate": 2})).status_code == 400

    await anon.post(
        f"{ADMIN}/faults/inject", json={"status": 503, "retryAfter": 2, "method": "GET"}
    )
    assert (await client.get(f"{ROOT}/deployments")).status_code == 503
    await anon.post(f"{ADMIN}/faults/drop", json={"status": 500, "method": "POST"})
    assert (await client.post(f"{ROOT}/deploymentAudiences", json={})).status_code == 500
    assert len(state.audiences) == 1


async def test_calls_and_counters_over_http(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    await create_deployment(client)
    await client.get(f"{ROOT}/deployments/nope")
    calls = (await anon.get(f"{ADMIN}/calls", params={"method": "POST"})).json()["value"]
    assert [(c["method"], c["status"]) for c in calls] == [("POST", 201)]
    assert calls[0]["body"]["content"]["catalogEntry"]["id"]
    counters = (await anon.get(f"{ADMIN}/counters")).json()
    assert counters == {"calls": 2, "writes": 1, "byStatus": {"201": 1, "404": 1}}
    assert (await anon.delete(f"{ADMIN}/calls")).status_code == 204
    assert (await anon.get(f"{ADMIN}/counters")).json()["calls"] == 0


async def test_calls_by_the_end_of_their_path_over_http(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    dep = await create_deployment(client)
    url = f"{ROOT}/deployments/{dep['id']}/audience/updateAudience"
    await client.post(url, json={"addMembers": devices(guid(1))})
    under = (await anon.get(f"{ADMIN}/calls", params={"pathContains": "/deployments"})).json()
    assert len(under["value"]) == 2
    ends = (await anon.get(f"{ADMIN}/calls", params={"pathEndsWith": "/deployments"})).json()
    assert [(c["path"], c["status"]) for c in ends["value"]] == [(f"{ROOT}/deployments", 201)]


async def test_monitoring_hook_and_known_devices(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    rules = {
        "monitoringRules": [{"signal": "rollback", "threshold": 10, "action": "pauseDeployment"}]
    }
    dep = await create_deployment(client, settings={"monitoring": rules})
    response = await anon.post(
        f"{ADMIN}/deployments/{dep['id']}/monitoring", json={"rollbackPercent": 12}
    )
    assert response.json() == {"pausedByMonitoring": True}
    body = (await client.get(f"{ROOT}/deployments/{dep['id']}")).json()
    assert state_of(body)[2] == ["pausedByMonitoring"]
    unknown = await anon.post(f"{ADMIN}/deployments/nope/monitoring", json={"rollbackPercent": 1})
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {
            "code": "notFound",
            "message": "There is no deployment 'nope'.",
            "field": "id",
        }
    }

    assert (await anon.put(f"{ADMIN}/known-devices", json={"ids": [guid(1)]})).json() == {
        "ids": [guid(1)]
    }
    assert state.known_devices == {guid(1)}


async def test_reset_drops_data_keeps_config(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.page_size = 5
    await create_deployment(client)
    state.faults.inject(500, count=3)
    assert (await anon.post(f"{ADMIN}/reset")).status_code == 204
    assert (state.deployments, state.audiences, state.calls, state.faults.scripted) == (
        {},
        {},
        [],
        [],
    )
    assert state.page_size == 5
    assert len(state.catalog) == 12


async def test_token_endpoint_of_admin_issues_usable_tokens(anon: httpx.AsyncClient) -> None:
    token = (await anon.post(f"{ADMIN}/token", json={"clientId": "team-b"})).json()["access_token"]
    response = await anon.get(f"{ROOT}/deployments", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
