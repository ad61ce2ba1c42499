"""Bad input to POST /v1/rollouts gets a 4xx problem naming each bad field — and changes
nothing: no Graph call is made and no row is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body, table_counts

GOOD_DEVICE = device_ids(1)[0]


def _waves(**extra: Any) -> dict[str, Any]:
    return {"waves": {"devicesPerWave": 100, "every": "P7D"}, **extra}


# (case, body overrides, status, problem type, the fields the problem must name)
CASES: list[tuple[str, dict[str, Any], int, str, set[str]]] = [
    ("unknown top-level field", {"colour": "red"}, 422, "urn:problem:validation", {"colour"}),
    (
        "the typo of Microsoft's example",
        {"schedule": {"waves": {"devicePerWave": 100}}},
        422,
        "urn:problem:validation",
        {"schedule.waves.devicePerWave", "schedule.waves.devicesPerWave"},
    ),
    (
        "string where a number belongs",
        {"schedule": {"waves": {"devicesPerWave": "100"}}},
        422,
        "urn:problem:validation",
        {"schedule.waves.devicesPerWave"},
    ),
    (
        "boolean where a number belongs",
        {"monitoring": [{"signal": "rollback", "thresholdPercent": True, "action": "pause"}]},
        422,
        "urn:problem:validation",
        {"monitoring[0].thresholdPercent"},
    ),
    (
        "non-GUID device ids, each named",
        {"devices": [GOOD_DEVICE, "not-a-guid", "12345"], "exclusions": ["x"]},
        422,
        "urn:problem:validation",
        {"devices[1]", "devices[2]", "exclusions[0]"},
    ),
    (
        "both waves and endBy",
        {"schedule": _waves(endBy="2027-01-01T00:00:00Z")},
        422,
        "urn:problem:validation",
        {"schedule"},
    ),
    (
        "false where a number belongs",
        {"schedule": {"waves": {"devicesPerWave": False}}},
        422,
        "urn:problem:validation",
        {"schedule.waves.devicesPerWave"},
    ),
    (
        "a number where a timestamp belongs",
        {"schedule": {"startAt": 1764576000}},
        422,
        "urn:problem:validation",
        {"schedule.startAt"},
    ),
    (
        "a fraction where a whole number belongs",
        {"schedule": {"waves": {"devicesPerWave": 10.5}}},
        422,
        "urn:problem:validation",
        {"schedule.waves.devicesPerWave"},
    ),
    (
        "a duration in weeks (Graph's durations have none)",
        {"schedule": {"waves": {"devicesPerWave": 10, "every": "P1W"}}},
        422,
        "urn:problem:validation",
        {"schedule.waves.every"},
    ),
    (
        "a start before the year 2000",
        {"schedule": {"startAt": "0825-08-27T08:30:09Z"}},
        422,
        "urn:problem:validation",
        {"schedule.startAt"},
    ),
    (
        "an empty version",
        {"update": {"kind": "feature", "version": ""}},
        422,
        "urn:problem:validation",
        {"update.feature.version"},
    ),
    (
        "a zero duration",
        {"schedule": {"spreadOver": "PT0S"}},
        422,
        "urn:problem:validation",
        {"schedule.spreadOver"},
    ),
    (
        "a duration past our ten-year ceiling",
        {"schedule": {"spreadOver": "P3651D"}},
        422,
        "urn:problem:validation",
        {"schedule.spreadOver"},
    ),
    (
        "a duration longer than any clock holds",
        {"schedule": {"waves": {"devicesPerWave": 10, "every": "P6142088699D"}}},
        422,
        "urn:problem:validation",
        {"schedule.waves.every"},
    ),
    (
        "a duration with a trailing newline",
        {"schedule": {"spreadOver": "P7D\n"}},
        422,
        "urn:problem:validation",
        {"schedule.spreadOver"},
    ),
    (
        "a ticket longer than the database column",
        {"ticket": "T" * 129},
        422,
        "urn:problem:validation",
        {"ticket"},
    ),
    ("a blank name", {"name": "   "}, 422, "urn:problem:validation", {"name"}),
    (
        "threshold out of range",
        {"monitoring": [{"signal": "rollback", "thresholdPercent": 101, "action": "pause"}]},
        422,
        "urn:problem:validation",
        {"monitoring[0].thresholdPercent"},
    ),
    (
        "invalid rule pair",
        {"monitoring": [{"signal": "rollback", "thresholdPercent": 5, "action": "offerFallback"}]},
        422,
        "urn:problem:validation",
        {"monitoring[0]"},
    ),
    (
        "duration that is not ISO 8601",
        {"schedule": {"waves": {"devicesPerWave": 10, "every": "7 days"}}},
        422,
        "urn:problem:validation",
        {"schedule.waves.every"},
    ),
    (
        "spreadOver that is not ISO 8601",
        {"schedule": {"spreadOver": "P"}},
        422,
        "urn:problem:validation",
        {"schedule.spreadOver"},
    ),
    (
        "timestamp without an offset",
        {"schedule": {"startAt": "2026-12-01T08:00:00"}},
        422,
        "urn:problem:validation",
        {"schedule.startAt"},
    ),
    (
        "both version and catalogEntryId",
        {
            "update": {
                "kind": "feature",
                "version": "Windows 11, version 24H2",
                "catalogEntryId": "x",
            }
        },
        422,
        "urn:problem:validation",
        {"update.feature"},
    ),
    (
        "readiness test without expedite",
        {"update": {"kind": "quality", "catalogEntryId": "x", "readinessTest": True}},
        422,
        "urn:problem:validation",
        {"update.quality"},
    ),
    ("missing name", {"name": None}, 422, "urn:problem:validation", {"name"}),
    (
        "days until forced reboot out of range",
        {"userExperience": {"daysUntilForcedReboot": 31}},
        422,
        "urn:problem:validation",
        {"userExperience.daysUntilForcedReboot"},
    ),
    (
        "unknown version",
        {"update": {"kind": "feature", "version": "Windows 12, version 30H2"}},
        422,
        "urn:problem:unknown-update",
        {"update.version"},
    ),
    (
        "expired version",
        {"update": {"kind": "feature", "version": "Windows 11, version 22H2"}},
        422,
        "urn:problem:update-not-deployable",
        {"update.version"},
    ),
    (
        "fallback rule on a quality update",
        {
            "update": {"kind": "quality", "catalogEntryId": "QUALITY_ENTRY"},
            "monitoring": [
                {"signal": "ineligible", "thresholdPercent": 1, "action": "offerFallback"}
            ],
        },
        422,
        "urn:problem:validation",
        {"monitoring[0]"},
    ),
    (
        "expediting an update that cannot be expedited",
        {"update": {"kind": "quality", "catalogEntryId": "NOT_EXPEDITABLE", "expedite": True}},
        422,
        "urn:problem:update-not-expeditable",
        {"update.expedite"},
    ),
    (
        "endBy in the past",
        {
            "update": {"kind": "feature", "version": "Windows 11, version 25H2"},
            "monitoring": [
                {"signal": "rollback", "thresholdPercent": 5, "action": "pause"},
                {"signal": "ineligible", "thresholdPercent": 1, "action": "offerFallback"},
            ],
            "schedule": {"endBy": "2026-11-01T00:00:00Z"},
        },
        422,
        "urn:problem:validation",
        {"schedule.endBy"},
    ),
]


def _quality_entry(simulator: SimulatorState, *, expeditable: bool) -> str:
    """A quality update the simulator's catalog can deploy at NOW."""
    for entry in simulator.catalog.values():
        if (
            entry["@odata.type"].endswith("qualityUpdateCatalogEntry")
            and entry["isExpeditable"] is expeditable
            and (entry["deployableUntilDateTime"] or "9999") > "2026-11-28"  # null: no end
        ):
            return str(entry["id"])
    raise AssertionError("the simulator's catalog has no such quality update")


def _prepared(body: dict[str, Any], simulator: SimulatorState) -> dict[str, Any]:
    """Drop None fields and put real catalog ids where a case names a placeholder."""
    body = {k: v for k, v in body.items() if v is not None}
    update = dict(body["update"])
    if update.get("catalogEntryId") == "QUALITY_ENTRY":
        update["catalogEntryId"] = _quality_entry(simulator, expeditable=True)
    if update.get("catalogEntryId") == "NOT_EXPEDITABLE":
        update["catalogEntryId"] = _quality_entry(simulator, expeditable=False)
    return {**body, "update": update}


@pytest.mark.parametrize(
    ("overrides", "status", "problem_type", "fields"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    overrides: dict[str, Any],
    status: int,
    problem_type: str,
    fields: set[str],
) -> None:
    response = await client.post(
        "/v1/rollouts", json=_prepared(rollout_body(**overrides), simulator)
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == problem_type
    named = {error["field"] for error in problem.get("errors", [])}
    assert named & fields, f"expected one of {fields} named, got {named}"
    if len(fields) > 1 and problem_type == "urn:problem:validation" and "devices[1]" in fields:
        assert fields <= named  # every bad id is listed
    assert simulator.writes() == []
    assert await table_counts(app) == (0, 0)


@pytest.mark.parametrize(
    ("content", "content_type", "status", "problem_type"),
    [
        (b'{"name": "x", "update": ', "application/json", 400, "urn:problem:malformed-request"),
        (b"[1, 2, 3]", "application/json", 422, "urn:problem:validation"),
        (b"", "application/json", 422, "urn:problem:validation"),
        (b'{"name": "x"}', "text/plain", 415, "urn:problem:unsupported-media-type"),
        (b"name=x", "application/x-www-form-urlencoded", 415, "urn:problem:unsupported-media-type"),
    ],
    ids=["truncated JSON", "an array", "no body", "text", "a form"],
)
async def test_unreadable_bodies_change_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    content: bytes,
    content_type: str,
    status: int,
    problem_type: str,
) -> None:
    response = await client.post(
        "/v1/rollouts", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.json()["type"] == problem_type
    assert response.json()["errors"]
    assert simulator.calls == []
    assert await table_counts(app) == (0, 0)


async def test_a_10_mb_body_is_413_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    devices = device_ids(1)[0]
    filler = ", ".join(f'"{devices}"' for _ in range(10 * 1024 * 1024 // 40 + 1))
    payload = (
        '{"name": "big", "update": {"kind": "feature", "version": "x"}, "devices": ['
        + filler
        + "]}"
    ).encode()
    assert len(payload) > 10 * 1024 * 1024
    response = await client.post(
        "/v1/rollouts", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["type"] == "urn:problem:payload-too-large"
    assert simulator.writes() == []
    assert simulator.calls == []
    assert await table_counts(app) == (0, 0)


async def test_more_than_100000_devices_is_refused(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    many = [f"00000000-0000-4000-8000-{i:012d}" for i in range(100_001)]
    response = await client.post("/v1/rollouts", json=rollout_body(devices=many))
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"devices"}
    assert simulator.writes() == []
    assert await table_counts(app) == (0, 0)


async def test_ticket_required_when_configured(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    app.state.services.settings = app.state.services.settings.model_copy(
        update={"require_ticket": True}
    )
    body = rollout_body()
    del body["ticket"]
    response = await client.post("/v1/rollouts", json=body)
    assert response.status_code == 422
    assert response.json()["type"] == "urn:problem:ticket-required"
    assert response.json()["errors"] == [{"field": "ticket", "message": "required"}]
    assert simulator.writes() == []
    assert await table_counts(app) == (0, 0)
