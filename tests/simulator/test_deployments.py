"""Deployments: creation, Graph-strict validation, reads, paging, PATCH and DELETE."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.simulator import SimulatorState, catalog
from tests.simulator.support import (
    NS,
    ROOT,
    content,
    create_deployment,
    error_code,
    get_deployment,
    quality_content,
)


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{ROOT}/deployments", json=body)


def rollout(**fields: Any) -> dict[str, Any]:
    return {"schedule": {"gradualRollout": fields}}


async def test_create_returns_the_deployment_with_content_settings_and_state(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    settings = {
        "schedule": {
            "gradualRollout": {
                "@odata.type": f"#{NS}.rateDrivenRolloutSettings",
                "durationBetweenOffers": "P7D",
                "devicesPerOffer": 100,
            }
        },
        "monitoring": {
            "monitoringRules": [{"signal": "rollback", "threshold": 5, "action": "pauseDeployment"}]
        },
        "userExperience": {"offerAsOptional": False, "daysUntilForcedReboot": None},
        "contentApplicability": {
            "safeguard": {"disabledSafeguardProfiles": [{"category": "likelyIssues"}]}
        },
    }
    response = await post(
        client, {"@odata.type": f"#{NS}.deployment", "content": content(), "settings": settings}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["@odata.type"] == f"#{NS}.deployment"
    assert body["content"]["catalogEntry"] == {
        "@odata.type": f"#{NS}.featureUpdateCatalogEntry",
        "id": catalog.WIN11_24H2,
    }
    assert body["settings"]["schedule"]["gradualRollout"]["devicesPerOffer"] == 100
    assert body["settings"]["monitoring"]["monitoringRules"][0]["threshold"] == 5
    assert body["settings"]["contentApplicability"]["safeguard"]["disabledSafeguardProfiles"] == [
        {"@odata.type": f"#{NS}.safeguardProfile", "category": "likelyIssues"}
    ]
    assert body["createdDateTime"] == "2026-11-28T12:00:00Z"
    assert body["state"]["effectiveValue"] == "offering"
    assert "audience" not in body
    assert set(state.deployments) == {body["id"]}


async def test_microsofts_typo_devicePerOffer_is_rejected_naming_the_property(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    body = {
        "content": content(),
        "settings": rollout(
            **{
                "@odata.type": f"#{NS}.rateDrivenRolloutSettings",
                "durationBetweenOffers": "P7D",
                "devicePerOffer": 100,
            }
        ),
    }
    response = await post(client, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert "'devicePerOffer'" in error["message"]
    assert error["target"] == "settings.schedule.gradualRollout.devicePerOffer"
    assert state.deployments == {}


@pytest.mark.parametrize(
    "body",
    [
        {"content": content(), "name": "x"},
        {"content": content(), "settings": {"disableSafeguards": True}},
        {
            "content": content(),
            "settings": {"userExperience": {"offerAsOptional": False, "reboot": 1}},
        },
    ],
)
async def test_any_unknown_property_is_a_400_naming_it(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await post(client, body)
    assert response.status_code == 400
    unknown = {"name", "disableSafeguards", "reboot"}
    assert any(f"'{u}'" in response.json()["error"]["message"] for u in unknown)


async def test_rate_driven_rollout_defaults_duration_between_offers_to_one_day(
    client: httpx.AsyncClient,
) -> None:
    body = await create_deployment(client, settings=rollout(devicesPerOffer=50))
    gradual = body["settings"]["schedule"]["gradualRollout"]
    assert gradual == {
        "@odata.type": f"#{NS}.rateDrivenRolloutSettings",
        "devicesPerOffer": 50,
        "durationBetweenOffers": "P1D",
    }


@pytest.mark.parametrize("given", [{}, {"durationBetweenOffers": "P2D"}])
async def test_rate_driven_rollout_without_devices_per_offer_offers_all_at_once(
    client: httpx.AsyncClient, given: dict[str, Any]
) -> None:
    """[doc] rateDrivenRolloutSettings: "When devicesPerOffer is not set, all devices in the
    deployment are offered content at the same time"; durationBetweenOffers defaults to P1D."""
    typed = {"@odata.type": f"#{NS}.rateDrivenRolloutSettings", **given}
    body = await create_deployment(client, settings=rollout(**typed))
    assert body["settings"]["schedule"]["gradualRollout"] == {
        "@odata.type": f"#{NS}.rateDrivenRolloutSettings",
        "devicesPerOffer": None,
        "durationBetweenOffers": given.get("durationBetweenOffers", "P1D"),
    }
    again = await get_deployment(client, body["id"])
    assert again["settings"] == body["settings"]


async def test_date_and_duration_driven_rollouts_are_accepted(client: httpx.AsyncClient) -> None:
    dated = await create_deployment(client, settings=rollout(endDateTime="2026-12-31T00:00:00Z"))
    assert (
        dated["settings"]["schedule"]["gradualRollout"]["@odata.type"]
        == f"#{NS}.dateDrivenRolloutSettings"
    )
    timed = await create_deployment(
        client, settings=rollout(durationBetweenOffers="PT12H", durationUntilDeploymentEnd="P14D")
    )
    assert (
        timed["settings"]["schedule"]["gradualRollout"]["@odata.type"]
        == f"#{NS}.durationDrivenRolloutSettings"
    )


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (rollout(devicesPerOffer=0), "devicesPerOffer"),
        (rollout(devicesPerOffer="10"), "devicesPerOffer"),
        (rollout(devicesPerOffer=10, durationBetweenOffers="7 days"), "durationBetweenOffers"),
        (rollout(devicesPerOffer=10, durationBetweenOffers="P"), "durationBetweenOffers"),
        (
            rollout(devicesPerOffer=10, durationBetweenOffers="P6142088699D"),
            "durationBetweenOffers",
        ),
        (rollout(durationBetweenOffers="P1D"), "gradualRollout"),
        (rollout(endDateTime="2026-12-31"), "endDateTime"),
        ({"schedule": {"startDateTime": "tomorrow"}}, "startDateTime"),
        (
            {
                "monitoring": {
                    "monitoringRules": [
                        {"signal": "rollback", "threshold": 0, "action": "alertError"}
                    ]
                }
            },
            "threshold",
        ),
        (
            {
                "monitoring": {
                    "monitoringRules": [
                        {"signal": "rollback", "threshold": 101, "action": "alertError"}
                    ]
                }
            },
            "threshold",
        ),
        (
            {"monitoring": {"monitoringRules": [{"signal": "rollback", "action": "alertError"}]}},
            "threshold",
        ),
        (
            {
                "monitoring": {
                    "monitoringRules": [
                        {"signal": "rollback", "threshold": 5, "action": "offerFallback"}
                    ]
                }
            },
            "rollback",
        ),
        (
            {
                "monitoring": {
                    "monitoringRules": [
                        {"signal": "ineligible", "threshold": 5, "action": "pauseDeployment"}
                    ]
                }
            },
            "ineligible",
        ),
        (
            {
                "contentApplicability": {
                    "safeguard": {"disabledSafeguardProfiles": [{"category": "all"}]}
                }
            },
            "all",
        ),
        ({"expedite": {"isExpedited": True}}, "quality"),
    ],
)
async def test_invalid_settings_are_rejected(
    client: httpx.AsyncClient, state: SimulatorState, settings: dict[str, Any], fragment: str
) -> None:
    response = await post(client, {"content": content(), "settings": settings})
    assert response.status_code == 400, response.text
    assert error_code(response) == "BadRequest"
    assert fragment in response.json()["error"]["message"]
    assert state.deployments == {}


async def test_offer_fallback_only_for_windows_11_feature_updates(
    client: httpx.AsyncClient,
) -> None:
    rule = {
        "monitoring": {"monitoringRules": [{"signal": "ineligible", "action": "offerFallback"}]}
    }
    win10 = await post(client, {"content": content(catalog.WIN10_22H2), "settings": rule})
    assert win10.status_code == 400
    assert "Windows 11" in win10.json()["error"]["message"]
    win11 = await post(client, {"content": content(catalog.WIN11_25H2), "settings": rule})
    assert win11.status_code == 201


async def test_expedite_rules(client: httpx.AsyncClient) -> None:
    readiness_only = await post(
        client, {"content": quality_content(), "settings": {"expedite": {"isReadinessTest": True}}}
    )
    assert readiness_only.status_code == 400
    assert "isExpedited" in readiness_only.json()["error"]["message"]

    not_expeditable = await post(
        client,
        {
            "content": quality_content(catalog.QUALITY_2026_10_B),
            "settings": {"expedite": {"isExpedited": True}},
        },
    )
    assert not_expeditable.status_code == 400
    assert "cannot be expedited" in not_expeditable.json()["error"]["message"]

    ok = await post(
        client,
        {
            "content": quality_content(),
            "settings": {"expedite": {"isExpedited": True, "isReadinessTest": True}},
        },
    )
    assert ok.status_code == 201
    assert ok.json()["settings"]["expedite"]["isExpedited"] is True


@pytest.mark.parametrize(
    "bad_content",
    [
        content("00000000-0000-0000-0000-000000000000"),
        {"catalogEntry": {"id": catalog.WIN11_24H2}},
        {"@odata.type": f"#{NS}.deployableContent", "catalogEntry": {"id": catalog.WIN11_24H2}},
        content(catalog.WIN11_24H2, "qualityUpdateCatalogEntry"),
    ],
)
async def test_content_must_be_catalog_content_with_an_existing_entry(
    client: httpx.AsyncClient, bad_content: dict[str, Any]
) -> None:
    response = await post(client, {"content": bad_content})
    assert response.status_code == 400
    assert error_code(response) == "BadRequest"


async def test_missing_content_and_non_json_bodies_are_400(client: httpx.AsyncClient) -> None:
    assert (await post(client, {"settings": {}})).status_code == 400
    raw = await client.post(
        f"{ROOT}/deployments", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert raw.status_code == 400
    assert error_code(raw) == "BadRequest"


async def test_standalone_audience_binds_once(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    created = await client.post(f"{ROOT}/deploymentAudiences", json={})
    assert created.status_code == 201
    audience = created.json()
    assert audience["@odata.type"] == f"#{NS}.deploymentAudience"
    fetched = await client.get(f"{ROOT}/deploymentAudiences/{audience['id']}")
    assert fetched.json() == audience

    dep = await create_deployment(client, audience={"id": audience["id"]})
    expanded = await client.get(f"{ROOT}/deployments/{dep['id']}", params={"$expand": "audience"})
    assert expanded.json()["audience"]["id"] == audience["id"]

    again = await post(client, {"content": content(), "audience": {"id": audience["id"]}})
    assert again.status_code == 409
    assert error_code(again) == "Conflict"
    unknown = await post(client, {"content": content(), "audience": {"id": "nope"}})
    assert unknown.status_code == 400
    assert len(state.deployments) == 1


async def test_without_an_audience_each_deployment_gets_its_own(client: httpx.AsyncClient) -> None:
    first = await create_deployment(client)
    second = await create_deployment(client)
    a = (await client.get(f"{ROOT}/deployments/{first['id']}/audience")).json()["id"]
    b = (await client.get(f"{ROOT}/deployments/{second['id']}/audience")).json()["id"]
    assert a != b


async def test_list_pages_with_absolute_next_links_and_expand(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.page_size = 2
    ids = [(await create_deployment(client))["id"] for _ in range(5)]
    seen: list[str] = []
    url: str | None = f"{ROOT}/deployments?$expand=audience"
    pages = 0
    while url:
        response = await client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert all("audience" in d for d in body["value"])
        seen += [d["id"] for d in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith("https://graph.test/beta/admin/windows/updates/deployments?")
            assert "$expand=audience" in url
        pages += 1
    assert seen == ids
    assert pages == 3


async def test_get_unknown_deployment_is_404_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ROOT}/deployments/unknown")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


async def test_patch_settings_returns_202_with_the_updated_body(client: httpx.AsyncClient) -> None:
    dep = await create_deployment(client, settings=rollout(devicesPerOffer=10))
    response = await client.patch(
        f"{ROOT}/deployments/{dep['id']}",
        json={"settings": {"userExperience": {"offerAsOptional": True}}},
    )
    assert response.status_code == 202
    settings = response.json()["settings"]
    assert settings["userExperience"]["offerAsOptional"] is True
    assert settings["schedule"]["gradualRollout"]["devicesPerOffer"] == 10  # other parts kept
    assert (await get_deployment(client, dep["id"]))["settings"] == settings


@pytest.mark.parametrize("key", ["content", "audience"])
async def test_content_and_audience_cannot_change(client: httpx.AsyncClient, key: str) -> None:
    dep = await create_deployment(client)
    value = content(catalog.WIN11_25H2) if key == "content" else {"id": "x"}
    response = await client.patch(f"{ROOT}/deployments/{dep['id']}", json={key: value})
    assert response.status_code == 400
    assert f"'{key}'" in response.json()["error"]["message"]
    after = await get_deployment(client, dep["id"])
    assert after["content"]["catalogEntry"]["id"] == catalog.WIN11_24H2


async def test_patch_validates_settings_like_create(client: httpx.AsyncClient) -> None:
    dep = await create_deployment(client)
    response = await client.patch(
        f"{ROOT}/deployments/{dep['id']}", json={"settings": rollout(devicePerOffer=5)}
    )
    assert response.status_code == 400
    assert "devicePerOffer" in response.json()["error"]["message"]


async def test_delete_is_202_without_body_then_404(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client)
    response = await client.delete(f"{ROOT}/deployments/{dep['id']}")
    assert response.status_code == 202
    assert response.content == b""
    assert (await client.get(f"{ROOT}/deployments/{dep['id']}")).status_code == 404
    assert (await client.delete(f"{ROOT}/deployments/{dep['id']}")).status_code == 404
    assert state.deployments == {}
