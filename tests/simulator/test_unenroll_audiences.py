"""Unenrolling a device takes it out of the audiences of every deployment of that category.

[doc] Microsoft's "Manage driver approvals" page (concepts/windowsupdates-manage-driver-update.md,
"Unenroll from driver management"): "The unenrolled device is removed from all audiences and
deployments that contains content for the given update category. The device remains registered
with the service and is still enrolled and receiving content for other update categories".
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.simulator import SimulatorState
from tests.simulator.support import (
    DEVICE,
    NS,
    ROOT,
    create_deployment,
    devices,
    guid,
    quality_content,
)

ASSETS = f"{ROOT}/updatableAssets"
DEV = guid(1)
OTHER = guid(2)


async def audience_with(
    client: httpx.AsyncClient, state: SimulatorState, dep_id: str, **ops: list[str]
) -> str:
    """Apply an updateAudience at once; the audience id."""
    body = {op: devices(*ids) for op, ids in ops.items()}
    response = await client.post(f"{ROOT}/deployments/{dep_id}/audience/updateAudience", json=body)
    assert response.status_code == 202, response.text
    state.flush()
    return state.deployments[dep_id].audience_id


def listing(state: SimulatorState, audience_id: str) -> tuple[list[str], list[str]]:
    return state.members(audience_id), state.exclusions(audience_id)


@pytest.fixture
async def three(client: httpx.AsyncClient, state: SimulatorState) -> dict[str, str]:
    """Two feature deployments (DEV a member of one, excluded from the other) and a quality one."""
    feature = await create_deployment(client)
    excluding = await create_deployment(client)
    quality = await create_deployment(
        client, content=quality_content(), settings={"expedite": {"isExpedited": True}}
    )
    return {
        "feature": await audience_with(client, state, feature["id"], addMembers=[DEV, OTHER]),
        "excluding": await audience_with(
            client, state, excluding["id"], addMembers=[OTHER], addExclusions=[DEV]
        ),
        "quality": await audience_with(client, state, quality["id"], addMembers=[DEV]),
    }


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("unenrollAssets", {"updateCategory": "feature", "assets": devices(DEV)}),
        (
            f"{NS}.unenrollAssetsById",
            {"updateCategory": "feature", "memberEntityType": DEVICE, "ids": [DEV]},
        ),
    ],
)
async def test_feature_unenroll_leaves_feature_audiences_later_and_keeps_quality_ones(
    client: httpx.AsyncClient,
    state: SimulatorState,
    three: dict[str, str],
    action: str,
    body: dict[str, Any],
) -> None:
    state.synchronous = True
    await client.post(
        f"{ASSETS}/enrollAssets", json={"updateCategory": "feature", "assets": devices(DEV)}
    )
    state.synchronous = False
    response = await client.post(f"{ASSETS}/{action}", json=body)
    assert response.status_code == 202
    assert listing(state, three["feature"]) == ([DEV, OTHER], [])  # 202: not yet
    state.clock.advance(state.async_delay_seconds)
    assert listing(state, three["feature"]) == ([OTHER], [])
    assert listing(state, three["excluding"]) == ([OTHER], [])
    assert listing(state, three["quality"]) == ([DEV], [])
    device = state.devices[DEV]
    assert device.enrollment["feature"].state == "notEnrolled"
    members = await client.get(f"{ROOT}/deploymentAudiences/{three['feature']}/members")
    assert [d["id"] for d in members.json()["value"]] == [OTHER]


async def test_quality_unenroll_of_a_never_enrolled_device_still_leaves_quality_audiences(
    client: httpx.AsyncClient, state: SimulatorState, three: dict[str, str]
) -> None:
    """Expedited quality deployments need no enrollment, yet unenrolling removes the device."""
    assert state.devices[DEV].enrollment["quality"].state == "notEnrolled"
    await client.post(
        f"{ASSETS}/unenrollAssets", json={"updateCategory": "quality", "assets": devices(DEV)}
    )
    state.flush()
    assert listing(state, three["quality"]) == ([], [])
    assert listing(state, three["feature"]) == ([DEV, OTHER], [])
    assert listing(state, three["excluding"]) == ([OTHER], [DEV])


async def test_standalone_audiences_without_a_deployment_keep_the_device(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    audience = (await client.post(f"{ROOT}/deploymentAudiences", json={})).json()["id"]
    await client.post(
        f"{ROOT}/deploymentAudiences/{audience}/updateAudience",
        json={"addMembers": devices(DEV)},
    )
    await client.post(
        f"{ASSETS}/unenrollAssets", json={"updateCategory": "feature", "assets": devices(DEV)}
    )
    assert state.members(audience) == [DEV]
