"""`@odata.context` on answers, as Graph sends it (first key; service root = where we sent it).

[doc] e.g. `https://graph.microsoft.com/beta/$metadata#admin/windows/updates/deployments/$entity`
on a created deployment (Windows Autopatch "Programmatic controls for expedited Windows quality
updates"), `…#admin/windows/updates/deploymentAudiences/$entity` on a created audience
(concepts/windowsupdates-manage-driver-update.md), `…#admin/windows/updates/catalog/entries` on a
list.
"""

from __future__ import annotations

import httpx

from app.simulator import SimulatorState, create_simulator_app
from tests.simulator.support import ROOT, content, create_deployment, devices, guid

META = "https://graph.test/beta/$metadata#admin/windows/updates/"


def context(response: httpx.Response) -> str:
    body = response.json()
    assert next(iter(body)) == "@odata.context", "Graph puts the context first"
    value: str = body["@odata.context"]
    return value


async def test_deployments(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{ROOT}/deployments", json={"content": content()})
    dep_id = created.json()["id"]
    assert context(created) == f"{META}deployments/$entity"
    assert context(await client.get(f"{ROOT}/deployments")) == f"{META}deployments"
    one = await client.get(f"{ROOT}/deployments/{dep_id}")
    assert context(one) == f"{META}deployments/$entity"
    expanded = await client.get(f"{ROOT}/deployments", params={"$expand": "audience"})
    assert context(expanded) == f"{META}deployments(audience())"
    patched = await client.patch(
        f"{ROOT}/deployments/{dep_id}", json={"state": {"requestedValue": "paused"}}
    )
    assert context(patched) == f"{META}deployments/$entity"
    deleted = await client.delete(f"{ROOT}/deployments/{dep_id}")
    assert deleted.content == b""


async def test_audiences_members_and_assets(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    audience = await client.post(f"{ROOT}/deploymentAudiences", json={})
    assert context(audience) == f"{META}deploymentAudiences/$entity"
    audience_id = audience.json()["id"]
    await client.post(
        f"{ROOT}/deploymentAudiences/{audience_id}/updateAudience",
        json={"addMembers": devices(guid(1))},
    )
    members = await client.get(f"{ROOT}/deploymentAudiences/{audience_id}/members")
    assert context(members) == f"{META}deploymentAudiences('{audience_id}')/members"
    dep = await create_deployment(client)
    via = await client.get(f"{ROOT}/deployments/{dep['id']}/audience")
    assert context(via) == f"{META}deployments('{dep['id']}')/audience/$entity"
    assert context(await client.get(f"{ROOT}/updatableAssets")) == f"{META}updatableAssets"
    device = await client.get(f"{ROOT}/updatableAssets/{guid(1)}")
    assert context(device) == f"{META}updatableAssets/$entity"
    listed = await client.get(f"{ROOT}/catalog/entries")
    assert context(listed) == f"{META}catalog/entries"


async def test_errors_carry_no_context(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{ROOT}/deployments/nope")
    assert "@odata.context" not in missing.json()


async def test_the_service_root_is_the_one_the_client_called(state: SimulatorState) -> None:
    transport = httpx.ASGITransport(app=create_simulator_app(state))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="https://graph.microsoft.com",
        headers={"Authorization": f"Bearer {state.issue_token()}"},
    ) as graph:
        created = await graph.post(f"{ROOT}/deployments", json={"content": content()})
    assert created.json()["@odata.context"] == (
        "https://graph.microsoft.com/beta/$metadata#admin/windows/updates/deployments/$entity"
    )
