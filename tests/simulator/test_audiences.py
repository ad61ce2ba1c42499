"""Audience changes: async 202 application, both spellings, listings, paging, 404s and caps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.simulator import SimulatorState
from tests.simulator.support import DEVICE, NS, ROOT, create_deployment, devices, error_code, guid


async def audience_path(client: httpx.AsyncClient) -> str:
    dep = await create_deployment(client)
    return f"{ROOT}/deployments/{dep['id']}/audience"


async def ids(client: httpx.AsyncClient, url: str) -> list[str]:
    """Every id of a paged listing, following nextLink."""
    found: list[str] = []
    next_url: str | None = url
    while next_url:
        response = await client.get(next_url)
        assert response.status_code == 200, response.text
        found += [item["id"] for item in response.json()["value"]]
        next_url = response.json().get("@odata.nextLink")
    return found


@pytest.mark.parametrize("action", ["updateAudience", f"{NS}.updateAudience"])
async def test_update_audience_is_202_and_applies_after_the_delay(
    client: httpx.AsyncClient, state: SimulatorState, action: str
) -> None:
    base = await audience_path(client)
    response = await client.post(f"{base}/{action}", json={"addMembers": devices(guid(1), guid(2))})
    assert response.status_code == 202
    assert response.content == b""
    assert len(state.pending) == 1
    not_yet = await client.get(f"{base}/members")
    assert not_yet.status_code == 404  # never-used audience, change not applied yet
    state.clock.advance(state.async_delay_seconds - 0.5)
    assert (await client.get(f"{base}/members")).status_code == 404
    state.clock.advance(1)
    assert await ids(client, f"{base}/members") == [guid(1), guid(2)]
    assert state.pending == []


async def test_synchronous_mode_applies_at_once(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    base = await audience_path(client)
    await client.post(f"{base}/updateAudience", json={"addMembers": devices(guid(1))})
    assert await ids(client, f"{base}/members") == [guid(1)]


async def test_by_id_variant_in_both_spellings_and_on_standalone_audiences(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    audience = (await client.post(f"{ROOT}/deploymentAudiences", json={})).json()
    base = f"{ROOT}/deploymentAudiences/{audience['id']}"
    body: dict[str, Any] = {
        "memberEntityType": DEVICE,
        "addMembers": [guid(1), guid(2)],
        "addExclusions": [guid(3)],
    }
    assert (await client.post(f"{base}/updateAudienceById", json=body)).status_code == 202
    more = {"memberEntityType": DEVICE, "addMembers": [guid(4)], "removeMembers": [guid(1)]}
    assert (await client.post(f"{base}/{NS}.updateAudienceById", json=more)).status_code == 202
    assert await ids(client, f"{base}/members") == [guid(2), guid(4)]
    assert await ids(client, f"{base}/exclusions") == [guid(3)]


async def test_remove_exclusions_and_members(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    base = await audience_path(client)
    await client.post(
        f"{base}/updateAudience",
        json={"addMembers": devices(guid(1)), "addExclusions": devices(guid(2))},
    )
    await client.post(
        f"{base}/updateAudience",
        json={"removeMembers": devices(guid(1)), "removeExclusions": devices(guid(2))},
    )
    assert await ids(client, f"{base}/members") == []
    assert await ids(client, f"{base}/exclusions") == []


async def test_changes_apply_in_order(client: httpx.AsyncClient, state: SimulatorState) -> None:
    base = await audience_path(client)
    await client.post(f"{base}/updateAudience", json={"addMembers": devices(guid(1))})
    state.clock.advance(1)
    await client.post(f"{base}/updateAudience", json={"removeMembers": devices(guid(1))})
    state.clock.advance(10)
    assert await ids(client, f"{base}/members") == []


async def test_a_device_both_member_and_excluded_is_listed_in_both_but_not_targeted(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    dep = await create_deployment(client)
    base = f"{ROOT}/deployments/{dep['id']}/audience"
    await client.post(
        f"{base}/updateAudience",
        json={"addMembers": devices(guid(1), guid(2)), "addExclusions": devices(guid(2))},
    )
    assert await ids(client, f"{base}/members") == [guid(1), guid(2)]
    assert await ids(client, f"{base}/exclusions") == [guid(2)]
    audience = state.audience_for(dep["id"])
    assert state.effective_targets(audience.id) == [guid(1)]


async def test_members_page_with_absolute_next_links(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    state.page_size = 3
    base = await audience_path(client)
    wanted = [guid(i) for i in range(8)]
    await client.post(f"{base}/updateAudience", json={"addMembers": devices(*wanted)})
    first = (await client.get(f"{base}/members")).json()
    assert len(first["value"]) == 3
    assert first["@odata.nextLink"].startswith(f"https://graph.test{base}/members?$skiptoken=")
    assert await ids(client, f"{base}/members") == wanted
    last = (await client.get(f"{base}/members?$skiptoken=6")).json()
    assert "@odata.nextLink" not in last
    assert (await client.get(f"{base}/members?$skiptoken=abc")).status_code == 400


async def test_never_used_audience_404_can_be_switched_off(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    base = await audience_path(client)
    response = await client.get(f"{base}/members")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
    assert (
        response.json()["error"]["message"] == "Requested resource 'deployment audience' not found"
    )
    assert (await client.get(f"{base}/exclusions")).status_code == 404
    state.empty_audience_404 = False
    empty = await client.get(f"{base}/members")
    assert empty.status_code == 200
    deployment_id = base.split("/deployments/")[1].split("/")[0]
    assert empty.json() == {
        "@odata.context": "https://graph.test/beta/$metadata#admin/windows/updates/deployments"
        f"('{deployment_id}')/audience/members",
        "value": [],
    }


async def test_emptied_audience_lists_empty_not_404(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    base = await audience_path(client)
    await client.post(f"{base}/updateAudience", json={"addMembers": devices(guid(1))})
    await client.post(f"{base}/updateAudience", json={"removeMembers": devices(guid(1))})
    response = await client.get(f"{base}/members")
    assert response.status_code == 200
    assert response.json()["value"] == []


async def test_added_devices_are_registered_as_updatable_assets(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    base = await audience_path(client)
    await client.post(
        f"{base}/updateAudience",
        json={"addMembers": devices(guid(1)), "addExclusions": devices(guid(2))},
    )
    assert (await client.get(f"{ROOT}/updatableAssets/{guid(1)}")).status_code == 404
    state.clock.advance(state.async_delay_seconds)
    for device_id in (guid(1), guid(2)):
        asset = await client.get(f"{ROOT}/updatableAssets/{device_id}")
        assert asset.status_code == 200
        assert asset.json()["@odata.type"] == DEVICE
        assert asset.json()["enrollment"]["feature"]["enrollmentState"] == "notEnrolled"


async def test_more_ids_than_the_cap_in_one_call_is_400(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.max_ids_per_call = 4
    base = await audience_path(client)
    ok = {
        "addMembers": devices(*[guid(i) for i in range(2)]),
        "addExclusions": devices(guid(9), guid(10)),
    }
    assert (await client.post(f"{base}/updateAudience", json=ok)).status_code == 202
    too_many = {
        "addMembers": devices(*[guid(i) for i in range(3)]),
        "addExclusions": devices(guid(9), guid(10)),
    }
    response = await client.post(f"{base}/updateAudience", json=too_many)
    assert response.status_code == 400
    assert "at most 4" in response.json()["error"]["message"]
    assert len(state.pending) == 1


async def test_default_cap_is_200(client: httpx.AsyncClient) -> None:
    base = await audience_path(client)
    response = await client.post(
        f"{base}/updateAudienceById",
        json={"memberEntityType": DEVICE, "addMembers": [guid(i) for i in range(201)]},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("updateAudience", {"addMembers": [{"id": "x"}]}),
        (
            "updateAudience",
            {"addMembers": [{"@odata.type": f"#{NS}.updatableAssetGroup", "id": "g"}]},
        ),
        ("updateAudience", {"addMember": devices("x")}),
        ("updateAudience", {"addMembers": "x"}),
        ("updateAudienceById", {"addMembers": ["x"]}),
        (
            "updateAudienceById",
            {"memberEntityType": "#microsoft.graph.device", "addMembers": ["x"]},
        ),
        ("updateAudienceById", {"memberEntityType": DEVICE, "addMembers": [1]}),
    ],
)
async def test_malformed_update_bodies_are_400(
    client: httpx.AsyncClient, state: SimulatorState, action: str, body: dict[str, Any]
) -> None:
    base = await audience_path(client)
    response = await client.post(f"{base}/{action}", json=body)
    assert response.status_code == 400
    assert error_code(response) == "BadRequest"
    assert state.pending == []


async def test_unknown_deployment_or_audience_is_404(client: httpx.AsyncClient) -> None:
    for url in (
        f"{ROOT}/deployments/nope/audience/updateAudience",
        f"{ROOT}/deploymentAudiences/nope/updateAudience",
    ):
        response = await client.post(url, json={"addMembers": devices(guid(1))})
        assert response.status_code == 404
    assert (await client.get(f"{ROOT}/deploymentAudiences/nope/members")).status_code == 404
