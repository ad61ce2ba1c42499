"""Every kind of simulator response, validated strictly against Microsoft's OpenAPI."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.simulator import SimulatorState, catalog, create_simulator_app
from app.simulator.clock import SimulatorClock
from tests.contract import msgraph_schema as contract
from tests.simulator.support import DEVICE, NOW, NS, ROOT, content, devices, guid, quality_content

FULL_SETTINGS = {
    "schedule": {
        "startDateTime": "2026-12-01T00:00:00Z",
        "gradualRollout": {
            "@odata.type": f"#{NS}.rateDrivenRolloutSettings",
            "devicesPerOffer": 100,
        },
    },
    "monitoring": {
        "monitoringRules": [{"signal": "rollback", "threshold": 5, "action": "pauseDeployment"}]
    },
    "userExperience": {"offerAsOptional": True, "daysUntilForcedReboot": 2},
    "contentApplicability": {
        "safeguard": {"disabledSafeguardProfiles": [{"category": "likelyIssues"}]}
    },
}


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState(clock=SimulatorClock(NOW), synchronous=True, page_size=2)


@pytest.fixture
async def client(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_simulator_app(state)),
        base_url="https://graph.test",
        headers={
            "Authorization": f"Bearer {state.issue_token()}",
            "Prefer": "include-unknown-enum-members",
        },
    ) as http:
        yield http


async def check(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send a call and validate the response strictly for its operation and status."""
    response = await client.request(method, path, **kwargs)
    body = response.json() if response.content else None
    contract.validate_response(method, path, response.status_code, body)
    if response.status_code >= 400:
        contract.validate_error_envelope(body)
    return response


async def test_catalog_lists(client: httpx.AsyncClient) -> None:
    for flt in (
        None,
        f"isof('{NS}.featureUpdateCatalogEntry')",
        f"isof('{NS}.qualityUpdateCatalogEntry')",
    ):
        params = {"$filter": flt} if flt else {}
        response = await check(client, "GET", f"{ROOT}/catalog/entries", params=params)
        assert response.status_code == 200
        assert response.json()["@odata.nextLink"]
    quality = f"{NS}.qualityUpdateCatalogEntry"
    expedite_page = await check(
        client,
        "GET",
        f"{ROOT}/catalog/entries?$top=3&$filter=isof('{quality}') and {quality}/isExpeditable eq "
        f"true&$expand={quality}/productRevisions&$orderby=releaseDateTime desc",
    )
    assert expedite_page.json()["value"][0]["productRevisions"]
    one = await check(
        client,
        "GET",
        f"{ROOT}/catalog/entries/{catalog.QUALITY_2026_11_B}?$expand={quality}/productRevisions",
    )
    assert one.json()["productRevisions"][0]["knowledgeBaseArticle"]["id"]
    for entry in catalog.seed_catalog().values():
        contract.validate_schema("catalogEntry", entry)


async def test_audience_create_get_and_list(client: httpx.AsyncClient) -> None:
    created = await check(client, "POST", f"{ROOT}/deploymentAudiences", json={})
    assert created.status_code == 201
    contract.validate_request_body("POST", f"{ROOT}/deploymentAudiences", {})
    await check(client, "GET", f"{ROOT}/deploymentAudiences/{created.json()['id']}")
    await check(client, "GET", f"{ROOT}/deploymentAudiences")


async def test_deployment_create_get_list_patch_delete(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    body = {"content": content(), "settings": FULL_SETTINGS}
    contract.validate_request_body("POST", f"{ROOT}/deployments", body)
    created = await check(client, "POST", f"{ROOT}/deployments", json=body)
    assert created.status_code == 201
    dep_id = created.json()["id"]
    q = {
        "content": quality_content(),
        "settings": {"expedite": {"isExpedited": True, "isReadinessTest": False}},
    }
    contract.validate_request_body("POST", f"{ROOT}/deployments", q)
    await check(client, "POST", f"{ROOT}/deployments", json=q)
    for settings in (
        {"schedule": {"gradualRollout": {"@odata.type": f"#{NS}.rateDrivenRolloutSettings"}}},
        {"schedule": {"gradualRollout": {"endDateTime": "2027-01-01T00:00:00Z"}}},
        {
            "schedule": {
                "gradualRollout": {
                    "durationBetweenOffers": "P1D",
                    "durationUntilDeploymentEnd": "P7D",
                }
            }
        },
    ):
        await check(
            client, "POST", f"{ROOT}/deployments", json={"content": content(), "settings": settings}
        )
    await check(
        client, "POST", f"{ROOT}/deployments", json={"content": content(catalog.WIN11_22H2)}
    )  # faulted

    assert (
        "audience"
        in (await check(client, "GET", f"{ROOT}/deployments/{dep_id}?$expand=audience")).json()
    )
    listed = await check(client, "GET", f"{ROOT}/deployments?$expand=audience")
    await check(client, "GET", listed.json()["@odata.nextLink"])

    state.set_monitoring_signal(dep_id, 50)
    patch = {"state": {"requestedValue": "paused"}}
    contract.validate_request_body("PATCH", f"{ROOT}/deployments/{dep_id}", patch)
    patched = await check(client, "PATCH", f"{ROOT}/deployments/{dep_id}", json=patch)
    assert patched.status_code == 202
    settings_patch = {"settings": {"monitoring": {"monitoringRules": []}}}
    await check(client, "PATCH", f"{ROOT}/deployments/{dep_id}", json=settings_patch)
    assert (await check(client, "DELETE", f"{ROOT}/deployments/{dep_id}")).status_code == 202


async def test_members_exclusions_and_updatable_assets(client: httpx.AsyncClient) -> None:
    dep = (await client.post(f"{ROOT}/deployments", json={"content": content()})).json()
    base = f"{ROOT}/deployments/{dep['id']}/audience"
    update = {
        "addMembers": devices(guid(1), guid(2), "ffff0000-0000-4000-8000-000000000000"),
        "addExclusions": devices(guid(2)),
    }
    contract.validate_request_body("POST", f"{base}/updateAudience", update)
    assert (await check(client, "POST", f"{base}/updateAudience", json=update)).status_code == 202
    by_id = {"memberEntityType": DEVICE, "addMembers": [guid(3)]}
    contract.validate_request_body("POST", f"{base}/updateAudienceById", by_id)
    await check(client, "POST", f"{base}/{NS}.updateAudienceById", json=by_id)
    await check(client, "GET", f"{base}")
    first = await check(client, "GET", f"{base}/members")
    await check(client, "GET", first.json()["@odata.nextLink"])
    await check(client, "GET", f"{base}/exclusions")

    enroll = {"updateCategory": "feature", "assets": devices(guid(1))}
    contract.validate_request_body("POST", f"{ROOT}/updatableAssets/enrollAssets", enroll)
    await check(client, "POST", f"{ROOT}/updatableAssets/enrollAssets", json=enroll)
    unenroll = {"updateCategory": "feature", "memberEntityType": DEVICE, "ids": [guid(1)]}
    contract.validate_request_body("POST", f"{ROOT}/updatableAssets/unenrollAssetsById", unenroll)
    await check(client, "POST", f"{ROOT}/updatableAssets/{NS}.unenrollAssetsById", json=unenroll)
    errored = await check(
        client, "GET", f"{ROOT}/updatableAssets/ffff0000-0000-4000-8000-000000000000"
    )
    assert errored.json()["errors"]
    await check(client, "GET", f"{ROOT}/updatableAssets")


async def test_error_envelopes(client: httpx.AsyncClient, state: SimulatorState) -> None:
    assert (await check(client, "GET", f"{ROOT}/deployments/nope")).status_code == 404
    bad = {
        "content": content(),
        "settings": {"schedule": {"gradualRollout": {"devicePerOffer": 1}}},
    }
    assert (await check(client, "POST", f"{ROOT}/deployments", json=bad)).status_code == 400
    state.faults.inject(429, retry_after=1)
    assert (await check(client, "GET", f"{ROOT}/deployments")).status_code == 429
    denied = await check(
        client, "GET", f"{ROOT}/deployments", headers={"Authorization": "Bearer nope"}
    )
    assert denied.status_code == 401


# -- the validator is not vacuous: it catches what it must -----------------------------------


def test_strict_mode_catches_microsofts_own_typo_and_lax_mode_does_not() -> None:
    body = {"content": content(), "settings": {"schedule": {"gradualRollout": {
        "@odata.type": f"#{NS}.rateDrivenRolloutSettings", "devicePerOffer": 100}}}}  # fmt: skip
    errors = contract.request_body_errors("POST", "/deployments", body)
    assert errors == [
        "$.settings.schedule.gradualRollout.devicePerOffer: property not declared by "
        f"{NS}.rateDrivenRolloutSettings"
    ]
    assert contract.request_body_errors("POST", "/deployments", body, strict=False) == []
    with pytest.raises(contract.ContractError, match="devicePerOffer"):
        contract.validate_request_body("POST", "/deployments", body)


def test_types_enums_derived_fields_and_odata_types_are_checked() -> None:
    entry = copy.deepcopy(catalog.seed_catalog()[catalog.QUALITY_2026_11_B])
    entry["qualityUpdateCadence"] = "weekly"
    entry["isExpeditable"] = "yes"
    errors = contract.schema_errors("catalogEntry", entry)
    assert any("qualityUpdateCadence" in e for e in errors)
    assert any("isExpeditable" in e for e in errors)
    wrong_type = {"@odata.type": f"#{NS}.deployment", "id": "x"}
    assert any("is not a" in e for e in contract.schema_errors("catalogEntry", wrong_type))
    state = {"effectiveValue": "running", "requestedValue": "none", "reasons": []}
    assert contract.schema_errors("deploymentState", state)
    asset = {
        "@odata.type": DEVICE,
        "id": "x",
        "enrollment": {"feature": {"enrollmentState": "done"}},
    }
    assert contract.schema_errors("updatableAsset", asset)


def test_error_envelope_needs_inner_error_fields() -> None:
    with pytest.raises(contract.ContractError, match="request-id"):
        contract.validate_error_envelope(
            {"error": {"code": "x", "message": "y", "innerError": {"date": "d"}}}
        )
    with pytest.raises(contract.ContractError):
        contract.validate_error_envelope({"error": {"message": "y"}})


def test_operations_resolve_from_short_spellings_urls_and_templates() -> None:
    expected = "/admin/windows/updates/updatableAssets/microsoft.graph.windowsUpdates.enrollAssets"
    assert contract.find_operation("POST", "/updatableAssets/enrollAssets")[0] == expected
    assert (
        contract.find_operation(
            "POST", f"https://graph.microsoft.com{ROOT}/updatableAssets/{NS}.enrollAssets"
        )[0]
        == expected
    )
    assert (
        contract.find_operation("GET", "/deployments/{deployment-id}")[0]
        == "/admin/windows/updates/deployments/{deployment-id}"
    )
    with pytest.raises(KeyError):
        contract.find_operation("PUT", "/deployments")
    assert contract.response_errors("DELETE", "/deployments/x", 202, {"x": 1})
