"""The call log: what tests use to assert which Graph calls happened."""

from __future__ import annotations

import httpx

from app.simulator import SimulatorState
from tests.simulator.support import ROOT, create_deployment, devices, guid


async def test_calls_are_recorded_with_body_ids_and_status(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client)
    url = f"{ROOT}/deployments/{dep['id']}/audience/updateAudience"
    body = {"addMembers": devices(guid(1))}
    response = await client.post(url, json=body, headers={"client-request-id": "ours-1"})
    call = state.calls[-1]
    assert (call.method, call.path, call.status, call.body) == ("POST", url, 202, body)
    assert call.client_request_id == "ours-1"
    assert call.request_id == response.headers["request-id"]
    await client.get(f"{ROOT}/deployments", params={"$top": "5"})
    assert state.calls[-1].query == "%24top=5"
    assert state.calls[-1].body is None


async def test_count_and_writes(client: httpx.AsyncClient, state: SimulatorState) -> None:
    await client.get(f"{ROOT}/catalog/entries")
    assert state.writes() == []
    dep = await create_deployment(client)
    await client.patch(
        f"{ROOT}/deployments/{dep['id']}", json={"state": {"requestedValue": "paused"}}
    )
    await client.get(f"{ROOT}/deployments/{dep['id']}")
    assert [c.method for c in state.writes()] == ["POST", "PATCH"]
    assert state.count(method="GET") == 2
    assert state.count(path_contains="/deployments") == 3
    assert state.count(method="patch", status=202) == 1
    state.clear_calls()
    assert state.count() == 0


async def test_each_device_added_exactly_once_is_checkable(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client)
    url = f"{ROOT}/deployments/{dep['id']}/audience/updateAudience"
    await client.post(url, json={"addMembers": devices(guid(1), guid(2))})
    await client.post(url, json={"addMembers": devices(guid(3))})
    added = [
        m["id"]
        for c in state.find(method="POST", path_contains="updateAudience")
        for m in c.body["addMembers"]
    ]
    assert sorted(added) == [guid(1), guid(2), guid(3)]


async def test_an_exact_path_end_tells_a_create_from_the_actions_under_it(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client)
    url = f"{ROOT}/deployments/{dep['id']}/audience/updateAudience"
    await client.post(url, json={"addMembers": devices(guid(1))})
    assert state.count("POST", "/deployments") == 2
    [created] = state.find("POST", path_endswith="/deployments")
    assert created.status == 201 and created.path.endswith(f"{ROOT}/deployments")
    assert state.count("POST", path_endswith="updateAudience") == 1


async def test_rejected_and_unauthenticated_calls_are_recorded_too(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    await anon.post(f"{ROOT}/deploymentAudiences", json={})
    assert state.count(status=401) == 1
    assert len(state.writes()) == 1
    assert state.audiences == {}
