"""Query options on deployments, audiences and assets: the supported ones work, others are 400."""

from __future__ import annotations

import httpx
import pytest

from app.simulator import SimulatorState
from tests.simulator.support import ROOT, create_deployment, devices, guid


@pytest.fixture
async def audience(client: httpx.AsyncClient, state: SimulatorState) -> str:
    """The members path of a deployment whose audience holds three devices."""
    dep = await create_deployment(client)
    path = f"{ROOT}/deployments/{dep['id']}/audience"
    await client.post(f"{path}/updateAudience", json={"addMembers": devices(*map(guid, (1, 2, 3)))})
    state.flush()
    return f"{path}/members"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/deployments", {"$filter": "state/effectiveValue eq 'offering'"}),
        ("/deployments", {"$orderby": "createdDateTime desc"}),
        ("/deployments", {"$search": '"offering"'}),
        ("/deployments", {"$select": "id"}),
        ("/deployments", {"$count": "true"}),
        ("/deployments", {"filter": "id eq 'x'"}),  # Graph beta's $-less spelling is the same
        ("/deploymentAudiences", {"$filter": "id eq 'x'"}),
        ("/updatableAssets", {"$orderby": "id"}),
        ("/updatableAssets", {"$filter": "id eq 'x'"}),
    ],
)
async def test_unsupported_options_on_collections_are_400_naming_them(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    await create_deployment(client)
    response = await client.get(f"{ROOT}{path}", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    option = "$" + next(iter(params)).lstrip("$")
    assert f"'{option}'" in error["message"]
    assert error["target"] == option


async def test_members_take_top_and_skiptoken_but_not_filter(
    client: httpx.AsyncClient, audience: str
) -> None:
    first = (await client.get(audience, params={"$top": "2"})).json()
    assert [d["id"] for d in first["value"]] == [guid(1), guid(2)]
    rest = (await client.get(first["@odata.nextLink"])).json()
    assert [d["id"] for d in rest["value"]] == [guid(3)]
    refused = await client.get(audience, params={"$filter": f"id eq '{guid(1)}'"})
    assert refused.status_code == 400
    assert "'$filter'" in refused.json()["error"]["message"]


async def test_what_the_service_client_sends_still_works(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    """app/graph/client.py: `$expand=audience` on deployments, paging via nextLink."""
    state.page_size = 1
    for _ in range(2):
        await create_deployment(client)
    first = await client.get(f"{ROOT}/deployments", params={"$expand": "audience"})
    assert first.status_code == 200
    assert "audience" in first.json()["value"][0]
    second = (await client.get(first.json()["@odata.nextLink"])).json()
    assert second["value"][0]["audience"]["id"]
    one = await client.get(f"{ROOT}/deployments/{second['value'][0]['id']}?$expand=audience")
    assert one.json()["audience"] == second["value"][0]["audience"]


async def test_expand_of_an_unknown_navigation_property_is_400(client: httpx.AsyncClient) -> None:
    dep = await create_deployment(client)
    response = await client.get(f"{ROOT}/deployments/{dep['id']}", params={"$expand": "content"})
    assert response.status_code == 400
    assert "property named 'content'" in response.json()["error"]["message"]


async def test_custom_query_options_are_ignored_as_odata_says(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ROOT}/deployments", params={"debug": "1"})
    assert response.status_code == 200


async def test_options_on_actions_are_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{ROOT}/updatableAssets/enrollAssets?$top=1",
        json={"updateCategory": "feature", "assets": devices(guid(1))},
    )
    assert response.status_code == 400
    assert "'$top'" in response.json()["error"]["message"]
