"""Every request body GraphClient can send, captured by the simulator, against Microsoft's OpenAPI.

Bodies are taken from the simulator's call record (what really went over the wire), then checked
in strict mode (no property the type does not declare) plus the derived-type field rules of
graph.md that the OpenAPI cannot express.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.graph.auth import ClientCredentialsTokenProvider
from app.graph.client import GraphClient, GraphClientConfig
from app.graph.factory import SIMULATOR_BASE_URL, SIMULATOR_ORIGIN
from app.graph.specs import (
    AudienceChange,
    ContentSpec,
    DateDrivenRollout,
    DeploymentSettingsSpec,
    DurationDrivenRollout,
    ExpediteSpec,
    MonitoringRule,
    RateDrivenRollout,
)
from app.simulator import SimulatorState, create_simulator_app
from app.simulator.calls import CallRecord
from app.simulator.catalog import QUALITY_2026_11_B, WIN11_24H2
from tests.contract import msgraph_schema

NS = "#microsoft.graph.windowsUpdates."
FEATURE = ContentSpec(WIN11_24H2, "feature")
QUALITY = ContentSpec(QUALITY_2026_11_B, "quality")
START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
DEVICES = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, 6)]

SETTINGS: dict[str, tuple[ContentSpec, DeploymentSettingsSpec | None]] = {
    "no settings": (FEATURE, None),
    "rate driven": (
        FEATURE,
        DeploymentSettingsSpec(
            start_date_time=START, gradual_rollout=RateDrivenRollout(250, "P2D")
        ),
    ),
    "date driven": (
        FEATURE,
        DeploymentSettingsSpec(gradual_rollout=DateDrivenRollout(START + timedelta(days=30))),
    ),
    "duration driven": (
        FEATURE,
        DeploymentSettingsSpec(gradual_rollout=DurationDrivenRollout("P14D", "PT12H")),
    ),
    "monitoring": (
        FEATURE,
        DeploymentSettingsSpec(
            monitoring_rules=(
                MonitoringRule("rollback", 5, "pauseDeployment"),
                MonitoringRule("rollback", 2, "alertError"),
                MonitoringRule("ineligible", 1, "offerFallback"),
            )
        ),
    ),
    "safeguards off, user experience": (
        FEATURE,
        DeploymentSettingsSpec(
            safeguards_enabled=False, offer_as_optional=True, days_until_forced_reboot=2
        ),
    ),
    "expedite": (
        QUALITY,
        DeploymentSettingsSpec(expedite=ExpediteSpec(is_expedited=True, is_readiness_test=False)),
    ),
    "expedite readiness test": (
        QUALITY,
        DeploymentSettingsSpec(expedite=ExpediteSpec(is_expedited=True, is_readiness_test=True)),
    ),
}


@pytest.fixture(scope="module")
def sim() -> SimulatorState:
    return SimulatorState(synchronous=True)


@pytest.fixture(scope="module")
async def captured(sim: SimulatorState) -> AsyncIterator[list[CallRecord]]:
    """Drive every write GraphClient has through the simulator; yield the recorded writes."""
    transport = httpx.ASGITransport(app=create_simulator_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url=SIMULATOR_BASE_URL) as http:
        tokens = ClientCredentialsTokenProvider(
            http,
            token_url=f"{SIMULATOR_ORIGIN}/t/oauth2/v2.0/token",
            client_id="c",
            client_secret="s",
        )
        graph = GraphClient(http, tokens, GraphClientConfig(max_ids_per_call=3))
        deployment_ids = []
        for content, settings in SETTINGS.values():
            audience = await graph.create_audience()
            created = await graph.create_deployment(content, settings, audience.value.id)
            deployment_ids.append(created.value.id)
        target = deployment_ids[1]
        for state in ("paused", "none", "archived"):
            await graph.set_requested_state(deployment_ids[0], state)
        for _, settings in list(SETTINGS.values())[1:6]:
            assert settings is not None
            await graph.update_settings(target, settings, "feature")
        await graph.update_settings(
            deployment_ids[-1], DeploymentSettingsSpec(expedite=ExpediteSpec(True)), "quality"
        )
        for change in (
            AudienceChange(add_members=tuple(DEVICES[:3])),
            AudienceChange(add_members=tuple(DEVICES[3:]), remove_members=tuple(DEVICES[:1])),
            AudienceChange(add_exclusions=tuple(DEVICES[1:2]), remove_exclusions=(DEVICES[2],)),
        ):
            await graph.update_audience_chunk(target, change)
        for category in ("feature", "quality", "driver"):
            for ids in (DEVICES[:3], DEVICES[3:]):
                await graph.enroll_assets_chunk(category, ids)
                await graph.unenroll_assets_chunk(category, ids)
        await graph.delete_deployment(deployment_ids[2])
        yield sim.writes()


def _writes(captured: list[CallRecord], method: str, path_end: str) -> list[CallRecord]:
    return [c for c in captured if c.method == method and c.path.endswith(path_end)]


def test_every_write_was_accepted_and_every_kind_was_sent(captured: list[CallRecord]) -> None:
    assert all(200 <= c.status < 300 for c in captured), [(c.path, c.status) for c in captured]
    kinds = {(c.method, c.path.rsplit("/", 1)[-1]) for c in captured}
    assert {
        ("POST", "deploymentAudiences"),
        ("POST", "deployments"),
        ("POST", "microsoft.graph.windowsUpdates.updateAudience"),
        ("POST", "microsoft.graph.windowsUpdates.enrollAssets"),
        ("POST", "microsoft.graph.windowsUpdates.unenrollAssets"),
        ("DELETE", captured[-1].path.rsplit("/", 1)[-1]),
    } <= kinds
    assert len(_writes(captured, "POST", "/deployments")) == len(SETTINGS)
    assert sum(1 for c in captured if c.method == "PATCH") == 9


def test_every_body_conforms_to_microsofts_openapi_strictly(captured: list[CallRecord]) -> None:
    problems = {
        f"{c.method} {c.path}": msgraph_schema.request_body_errors(c.method, c.path, c.body)
        for c in captured
    }
    assert {where: errors for where, errors in problems.items() if errors} == {}


def _objects(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in a body, with a readable path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{path}[{index}]")


def test_every_object_in_a_deployment_body_names_its_type(captured: list[CallRecord]) -> None:
    bodies = [c.body for c in captured if c.method == "PATCH"]
    bodies += [c.body for c in _writes(captured, "POST", "/deployments")]
    assert len(bodies) == len(SETTINGS) + 9
    untyped = [path for body in bodies for path, obj in _objects(body) if "@odata.type" not in obj]
    assert untyped == []


def test_derived_type_fields(captured: list[CallRecord]) -> None:
    creates = {
        name: call.body
        for name, call in zip(SETTINGS, _writes(captured, "POST", "/deployments"), strict=True)
    }
    rate = creates["rate driven"]["settings"]["schedule"]
    assert rate["startDateTime"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rate["gradualRollout"] == {
        "@odata.type": NS + "rateDrivenRolloutSettings",
        "durationBetweenOffers": "P2D",
        "devicesPerOffer": 250,
    }
    assert "devicePerOffer" not in str(creates)
    date = creates["date driven"]["settings"]["schedule"]["gradualRollout"]
    assert date["@odata.type"] == NS + "dateDrivenRolloutSettings"
    assert date["endDateTime"].endswith("Z")
    duration = creates["duration driven"]["settings"]["schedule"]["gradualRollout"]
    assert duration["durationUntilDeploymentEnd"] == "P14D"
    safeguard = creates["safeguards off, user experience"]["settings"]["contentApplicability"]
    assert safeguard["safeguard"]["disabledSafeguardProfiles"] == [
        {"@odata.type": NS + "safeguardProfile", "category": "likelyIssues"}
    ]
    for name, body in creates.items():
        entry = body["content"]["catalogEntry"]
        assert body["content"]["@odata.type"] == NS + "catalogContent"
        kind = "quality" if name.startswith("expedite") else "feature"
        assert entry["@odata.type"] == f"{NS}{kind}UpdateCatalogEntry"
        assert "expedite" not in body.get("settings", {}) or kind == "quality"
        assert body["audience"]["id"]
    for call in captured:
        if "Assets" in call.path:
            assert set(call.body) == {"updateCategory", "assets"}
            assert all(a["@odata.type"] == NS + "azureADDevice" for a in call.body["assets"])
        if "updateAudience" in call.path:
            ids = [d for key in call.body for d in call.body[key]]
            assert 0 < len(ids) <= 3
            assert all(d["@odata.type"] == NS + "azureADDevice" for d in ids)


def test_the_checks_would_catch_the_known_typo() -> None:
    body = {
        "@odata.type": NS + "deployment",
        "content": {
            "@odata.type": NS + "catalogContent",
            "catalogEntry": {"@odata.type": NS + "featureUpdateCatalogEntry", "id": WIN11_24H2},
        },
        "settings": {
            "schedule": {
                "gradualRollout": {
                    "@odata.type": NS + "rateDrivenRolloutSettings",
                    "devicePerOffer": 10,
                }
            }
        },
    }
    errors = msgraph_schema.request_body_errors("POST", "/deployments", body)
    assert any("devicePerOffer" in e for e in errors)
