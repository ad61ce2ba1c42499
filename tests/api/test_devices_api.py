"""GET /v1/devices/{deviceId}: Graph's view of a device (enrollment, registration errors with
hints) plus the rollouts of this service it is in, against the simulator.

The simulator gives ids starting with "ffff" the `invalidAzureADJoin` registration error and
ids starting with "eeee" `missingTrustType` (app/simulator/registration.py)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from app.devices.hints import HINTS, hint_for
from app.simulator.state import SimulatorState
from tests.api.helpers import W11_24H2

PROBLEM = "application/problem+json"
NOT_ENROLLED = {"feature": "notEnrolled", "quality": "notEnrolled", "driver": "notEnrolled"}


def device_id(prefix: str = "1") -> str:
    """A fresh device id starting with `prefix`."""
    return prefix + uuid.uuid4().hex[len(prefix) : 8] + "-0000-4000-8000-" + uuid.uuid4().hex[:12]


async def create_rollout(
    client: httpx.AsyncClient,
    app: FastAPI,
    name: str,
    devices: list[str],
    exclusions: list[str] | None = None,
) -> str:
    """A rollout made through the API with its audience operation finished; its id."""
    response = await client.post(
        "/v1/rollouts",
        json={
            "name": name,
            "ticket": "CHG1",
            "update": {"kind": "feature", "version": W11_24H2},
            "devices": devices,
            **({"exclusions": exclusions} if exclusions else {}),
        },
    )
    assert response.status_code == 201, response.text
    await app.state.services.operations.idle()
    return str(response.json()["id"])


async def test_enrolled_device_with_its_rollouts(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    device = device_id()
    pilot = await create_rollout(client, app, "pilot", [device])
    broad = await create_rollout(client, app, "broad", [device_id()], exclusions=[device])
    reads_before = simulator.count("GET", f"/updatableAssets/{device}")

    response = await client.get(f"/v1/devices/{device.upper()}")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "deviceId": device,
        "registered": True,
        "enrollment": {"feature": "enrolled", "quality": "notEnrolled", "driver": "notEnrolled"},
        "errors": [],
        "rollouts": [
            {"rolloutId": broad, "name": "broad", "membership": "excluded", "state": "offering"},
            {"rolloutId": pilot, "name": "pilot", "membership": "member", "state": "offering"},
        ],
    }
    assert simulator.count("GET", f"/updatableAssets/{device}") == reads_before + 1


@pytest.mark.parametrize(
    ("prefix", "reason"), [("ffff", "invalidAzureADJoin"), ("eeee", "missingTrustType")]
)
async def test_registration_error_comes_with_a_hint(
    client: httpx.AsyncClient, app: FastAPI, prefix: str, reason: str
) -> None:
    device = device_id(prefix)
    rollout = await create_rollout(client, app, "pilot", [device])

    body = (await client.get(f"/v1/devices/{device}")).json()

    assert body["registered"] is True
    # A device with a registration error never finishes enrolling.
    assert body["enrollment"] == {**NOT_ENROLLED, "feature": "enrolling"}
    assert body["errors"] == [{"reason": reason, "hint": HINTS[reason]}]
    assert [r["rolloutId"] for r in body["rollouts"]] == [rollout]


async def test_device_unknown_to_graph_is_200_not_registered(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    device = device_id()

    response = await client.get(f"/v1/devices/{device}")

    assert response.status_code == 200
    assert response.json() == {
        "deviceId": device,
        "registered": False,
        "enrollment": NOT_ENROLLED,
        "errors": [],
        "rollouts": [],
    }
    assert [c.status for c in simulator.find("GET", f"/updatableAssets/{device}")] == [404]


async def test_rollouts_come_from_our_records_even_when_graph_forgot_the_device(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    device = device_id()
    rollout = await create_rollout(client, app, "pilot", [device])
    del simulator.devices[device]

    body = (await client.get(f"/v1/devices/{device}")).json()

    assert body["registered"] is False
    assert body["enrollment"] == NOT_ENROLLED
    assert body["rollouts"] == [
        {"rolloutId": rollout, "name": "pilot", "membership": "member", "state": "offering"}
    ]


@pytest.mark.parametrize("bad", ["not-a-guid", "1234", "0b8a3f5e54f14b1d9d7e3c8f2a1b6c01x"])
async def test_non_guid_is_a_422_naming_the_field_and_graph_is_not_called(
    client: httpx.AsyncClient, simulator: SimulatorState, bad: str
) -> None:
    response = await client.get(f"/v1/devices/{bad}")

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:problem:validation"
    assert [e["field"] for e in body["errors"]] == ["deviceId"]
    assert simulator.count(path_contains="updatableAssets") == 0


async def test_graph_outage_is_a_503_problem_with_graphs_error_and_request_id(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    simulator.faults.inject(503, count=10, retry_after=0, path_contains="updatableAssets")
    device = device_id()

    response = await client.get(f"/v1/devices/{device}")

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:problem:graph-unavailable"
    assert body["graphError"]
    calls = simulator.find("GET", f"/updatableAssets/{device}")
    assert calls and all(c.status == 503 for c in calls)
    assert body["graphRequestId"] == calls[-1].request_id


def test_every_known_reason_has_a_hint_and_an_unknown_one_is_named() -> None:
    for reason in ("invalidAzureADJoin", "invalidAzureADDeviceId", "missingTrustType"):
        assert hint_for(reason) == HINTS[reason]
    assert "invalidGlobalDeviceId" in HINTS
    assert "Entra joined or Microsoft Entra hybrid joined" in hint_for("invalidAzureADJoin")
    assert "not the Intune device id" in hint_for("invalidAzureADDeviceId")
    assert "someNewReason" in hint_for("someNewReason")
