"""Updatable assets: enrollment transitions, registration errors, reads and listing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.simulator import SimulatorState
from tests.simulator.support import DEVICE, NS, ROOT, devices, guid

ASSETS = f"{ROOT}/updatableAssets"


async def asset(client: httpx.AsyncClient, device_id: str) -> dict[str, Any]:
    response = await client.get(f"{ASSETS}/{device_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def enrollment(body: dict[str, Any], category: str = "feature") -> str:
    value: str = body["enrollment"][category]["enrollmentState"]
    return value


@pytest.mark.parametrize("action", ["enrollAssets", f"{NS}.enrollAssets"])
async def test_enroll_goes_enrolling_then_enrolled_after_the_delay(
    client: httpx.AsyncClient, state: SimulatorState, action: str
) -> None:
    response = await client.post(
        f"{ASSETS}/{action}", json={"updateCategory": "feature", "assets": devices(guid(1))}
    )
    assert response.status_code == 202
    assert response.content == b""
    body = await asset(client, guid(1))
    assert enrollment(body) == "enrolling"
    assert enrollment(body, "quality") == "notEnrolled"
    assert body["enrollment"]["feature"]["lastModifiedDateTime"] == "2026-11-28T12:00:00Z"
    state.clock.advance(state.async_delay_seconds)
    body = await asset(client, guid(1))
    assert enrollment(body) == "enrolled"
    assert body["enrollment"]["feature"]["lastModifiedDateTime"] == "2026-11-28T12:00:05Z"


@pytest.mark.parametrize("action", ["unenrollAssetsById", f"{NS}.unenrollAssetsById"])
async def test_unenroll_by_id_goes_unenrolling_then_not_enrolled(
    client: httpx.AsyncClient, state: SimulatorState, action: str
) -> None:
    state.synchronous = True
    await client.post(
        f"{ASSETS}/enrollAssetsById",
        json={"updateCategory": "quality", "memberEntityType": DEVICE, "ids": [guid(1)]},
    )
    assert enrollment(await asset(client, guid(1)), "quality") == "enrolled"
    state.synchronous = False
    response = await client.post(
        f"{ASSETS}/{action}",
        json={"updateCategory": "quality", "memberEntityType": DEVICE, "ids": [guid(1)]},
    )
    assert response.status_code == 202
    assert enrollment(await asset(client, guid(1)), "quality") == "unenrolling"
    state.clock.advance(60)
    assert enrollment(await asset(client, guid(1)), "quality") == "notEnrolled"


async def test_synchronous_enrollment_is_immediate(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    await client.post(
        f"{ASSETS}/{NS}.enrollAssets", json={"updateCategory": "driver", "assets": devices(guid(7))}
    )
    assert enrollment(await asset(client, guid(7)), "driver") == "enrolled"


async def test_deterministic_registration_errors_without_known_devices(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.synchronous = True
    cases = {
        "ffff0000-0000-4000-8000-000000000001": ["invalidAzureADJoin"],
        "eeee0000-0000-4000-8000-000000000001": ["missingTrustType"],
        "dddd0000-0000-4000-8000-000000000001": ["invalidGlobalDeviceId"],
        "not-a-guid": ["invalidAzureADDeviceId"],
        guid(1): [],
    }
    await client.post(
        f"{ASSETS}/enrollAssets", json={"updateCategory": "feature", "assets": devices(*cases)}
    )
    for device_id, reasons in cases.items():
        body = await asset(client, device_id)
        assert [e["reason"] for e in body["errors"]] == reasons
        assert all(
            e["@odata.type"] == f"#{NS}.azureADDeviceRegistrationError" for e in body["errors"]
        )
        # a device the tenant does not know never finishes enrolling
        assert enrollment(body) == ("enrolled" if not reasons else "enrolling")


async def test_known_devices_decide_when_configured(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.known_devices = {guid(1), "ffff0000-0000-4000-8000-000000000001"}
    await client.post(
        f"{ASSETS}/enrollAssetsById",
        json={
            "updateCategory": "feature",
            "memberEntityType": DEVICE,
            "ids": [guid(1), guid(2), "ffff0000-0000-4000-8000-000000000001"],
        },
    )
    assert (await asset(client, guid(1)))["errors"] == []
    assert (await asset(client, "ffff0000-0000-4000-8000-000000000001"))["errors"] == []
    assert [e["reason"] for e in (await asset(client, guid(2)))["errors"]] == [
        "invalidAzureADDeviceId"
    ]


async def test_unknown_asset_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ASSETS}/{guid(99)}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


async def test_assets_list_is_paged(client: httpx.AsyncClient, state: SimulatorState) -> None:
    state.page_size = 2
    wanted = [guid(i) for i in range(5)]
    await client.post(
        f"{ASSETS}/enrollAssets", json={"updateCategory": "feature", "assets": devices(*wanted)}
    )
    found: list[str] = []
    url: str | None = ASSETS
    while url:
        body = (await client.get(url)).json()
        found += [d["id"] for d in body["value"]]
        url = body.get("@odata.nextLink")
    assert found == wanted


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("enrollAssets", {"updateCategory": "features", "assets": devices("x")}),
        ("enrollAssets", {"assets": devices("x")}),
        ("enrollAssets", {"updateCategory": "feature", "ids": ["x"]}),
        ("enrollAssetsById", {"updateCategory": "feature", "ids": ["x"]}),
        ("unenrollAssets", {"updateCategory": "feature", "assets": [{"id": "x"}]}),
    ],
)
async def test_malformed_enrollment_bodies_are_400(
    client: httpx.AsyncClient, state: SimulatorState, action: str, body: dict[str, Any]
) -> None:
    response = await client.post(f"{ASSETS}/{action}", json=body)
    assert response.status_code == 400
    assert state.devices == {}


async def test_enrollment_id_cap(client: httpx.AsyncClient, state: SimulatorState) -> None:
    state.max_ids_per_call = 3
    response = await client.post(
        f"{ASSETS}/enrollAssetsById",
        json={
            "updateCategory": "feature",
            "memberEntityType": DEVICE,
            "ids": [guid(i) for i in range(4)],
        },
    )
    assert response.status_code == 400
    assert state.devices == {}
