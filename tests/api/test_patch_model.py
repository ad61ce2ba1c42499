"""PATCH /v1/rollouts/{id} is a typed JSON merge patch: the same types and limits as
creation, refused as a 422 naming the field before Graph or the database sees anything, and
only what is given changes. The rollout resource carries the reason it was created for."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.rollouts.schemas import RolloutPatch
from app.simulator.state import SimulatorState
from tests.api.helpers import audit_trail, rollout_body, table_counts

MERGE_PATCH = "application/merge-patch+json"


async def _create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    created = await client.post("/v1/rollouts", json=rollout_body(**overrides))
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"ticket": "T" * 300}, "ticket"),
        ({"reason": "r" * 2001}, "reason"),
        ({"name": "n" * 201}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": 7}, "name"),
        ({"colour": "red"}, "colour"),
        ({"schedule": {"waves": {"devicesPerWave": False}}}, "schedule.waves.devicesPerWave"),
        ({"schedule": {"waves": {"devicesPerWave": None}}}, "schedule.waves.devicesPerWave"),
        ({"schedule": {"waves": {"every": "soon"}}}, "schedule.waves.every"),
        ({"schedule": {"startAt": 0}}, "schedule.startAt"),
        ({"schedule": {"spreadOver": "P6142088699D"}}, "schedule.spreadOver"),
        ({"schedule": {"waves": {"devicesPerWave": 5}, "spreadOver": "P7D"}}, "schedule"),
        ({"monitoring": [{"signal": "rollback", "thresholdPercent": "5"}]}, "monitoring[0]"),
        ({"userExperience": {"daysUntilForcedReboot": 31}}, "userExperience"),
        ({"safeguards": {"enabled": "no"}}, "safeguards.enabled"),
    ],
)
async def test_an_invalid_patch_is_a_422_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    patch: dict[str, Any],
    field: str,
) -> None:
    rollout = await _create(client)
    counts = await table_counts(app)
    simulator.clear_calls()

    response = await client.patch(f"/v1/rollouts/{rollout['id']}", json=patch)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:problem:validation"
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem["errors"]
    assert simulator.calls == []
    assert await table_counts(app) == counts


async def test_a_merge_patch_media_type_is_accepted_and_changes_only_what_it_names(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    rollout = await _create(
        client,
        schedule={"waves": {"devicesPerWave": 50, "every": "P7D"}},
        userExperience={"offerAsOptional": True},
    )

    patched = await client.patch(
        f"/v1/rollouts/{rollout['id']}",
        content=b'{"schedule": {"waves": {"every": "P3D"}}, "ticket": " CHG7 "}',
        headers={"content-type": MERGE_PATCH},
    )

    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["schedule"] == {"waves": {"devicesPerWave": 50, "every": "P3D"}}
    assert body["userExperience"] == {"offerAsOptional": True}
    assert body["name"] == rollout["name"]
    [sent] = simulator.find("PATCH", f"/deployments/{rollout['graphDeploymentId']}")
    gradual = sent.body["settings"]["schedule"]["gradualRollout"]
    assert (gradual["devicesPerOffer"], gradual["durationBetweenOffers"]) == (50, "P3D")


async def test_a_patch_in_another_media_type_is_a_415_that_says_what_to_send(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await _create(client)
    counts = await table_counts(app)
    simulator.clear_calls()

    refused = await client.patch(
        f"/v1/rollouts/{rollout['id']}",
        content=b'{"name": "B"}',
        headers={"content-type": "text/plain"},
    )

    assert refused.status_code == 415
    assert refused.json()["type"] == "urn:problem:unsupported-media-type"
    assert refused.headers["accept-patch"] == f"{MERGE_PATCH}, application/json"
    assert simulator.calls == []
    assert await table_counts(app) == counts


async def test_the_reason_of_a_patch_is_audited_and_the_rollout_keeps_its_own(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    rollout = await _create(client, reason="Quarterly OS upgrade, pilot")
    assert rollout["reason"] == "Quarterly OS upgrade, pilot"

    patched = await client.patch(
        f"/v1/rollouts/{rollout['id']}",
        json={"name": "Pilot ring B", "ticket": "CHG9", "reason": "  renamed  "},
    )

    assert patched.status_code == 200, patched.text
    assert patched.json()["reason"] == "Quarterly OS upgrade, pilot"
    assert (await client.get(f"/v1/rollouts/{rollout['id']}")).json()["reason"] == (
        "Quarterly OS upgrade, pilot"
    )
    last = (await audit_trail(app, rollout["id"]))[-1]
    assert (last.action, last.ticket, last.reason) == ("rollout.update", "CHG9", "renamed")
    assert last.detail["patch"] == {"name": "Pilot ring B"}


def test_the_patch_model_keeps_absent_and_null_apart() -> None:
    patch = RolloutPatch.model_validate(
        {"monitoring": None, "schedule": {"waves": {"devicesPerWave": 9}}, "ticket": "T"}
    )
    # Absent fields (and defaults such as waves.every) are not part of the merge patch.
    assert patch.changes() == {"monitoring": None, "schedule": {"waves": {"devicesPerWave": 9}}}
    assert "update" not in RolloutPatch.model_json_schema()["properties"]
