"""Deployment state: offering/scheduled, pause and resume, monitoring pauses, archive, faults."""

from __future__ import annotations

from typing import Any

import httpx

from app.simulator import SimulatorState, catalog
from tests.simulator.support import (
    NS,
    ROOT,
    content,
    create_deployment,
    get_deployment,
    state_of,
)

PAUSE_AT_5 = {
    "monitoringRules": [{"signal": "rollback", "threshold": 5, "action": "pauseDeployment"}]
}


async def patch(client: httpx.AsyncClient, dep_id: str, body: dict[str, Any]) -> httpx.Response:
    return await client.patch(f"{ROOT}/deployments/{dep_id}", json=body)


async def requested(client: httpx.AsyncClient, dep_id: str, value: str) -> dict[str, Any]:
    response = await patch(client, dep_id, {"state": {"requestedValue": value}})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_no_start_date_is_offering_at_once_even_without_members(
    client: httpx.AsyncClient,
) -> None:
    """[doc] "Create deployment" (adminwindowsupdates-post-deployments.md) answers a new,
    unscheduled deployment with `"reasons": []`; so does the expedite page's create response."""
    dep = await create_deployment(client)
    assert dep["state"] == {
        "@odata.type": f"#{NS}.deploymentState",
        "effectiveValue": "offering",
        "requestedValue": "none",
        "reasons": [],
    }
    assert state_of(await get_deployment(client, dep["id"])) == ("offering", "none", [])


async def test_offering_after_a_patch_is_offering_by_request(client: httpx.AsyncClient) -> None:
    """[doc] "Update deployment" (windowsupdates-deployment-update.md): after a settings PATCH
    the deployment offers with reason `offeringByRequest`."""
    dep = await create_deployment(client)
    response = await patch(client, dep["id"], {"settings": {"monitoring": PAUSE_AT_5}})
    assert response.json()["state"]["reasons"] == [
        {"@odata.type": f"#{NS}.deploymentStateReason", "value": "offeringByRequest"}
    ]


async def test_future_start_is_scheduled_until_the_clock_passes_it(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(
        client, settings={"schedule": {"startDateTime": "2026-11-29T12:00:00Z"}}
    )
    assert state_of(dep) == ("scheduled", "none", ["scheduledByOfferWindow"])
    state.clock.advance(23 * 3600)
    assert state_of(await get_deployment(client, dep["id"]))[0] == "scheduled"
    state.clock.advance(3600 + 1)
    assert state_of(await get_deployment(client, dep["id"])) == ("offering", "none", [])


async def test_past_start_is_offering(client: httpx.AsyncClient) -> None:
    dep = await create_deployment(
        client, settings={"schedule": {"startDateTime": "2026-11-01T00:00:00+02:00"}}
    )
    assert state_of(dep)[0] == "offering"


async def test_pause_and_resume_by_request(client: httpx.AsyncClient) -> None:
    dep = await create_deployment(client)
    assert state_of(await requested(client, dep["id"], "paused")) == (
        "paused",
        "paused",
        ["pausedByRequest"],
    )
    assert state_of(await get_deployment(client, dep["id"]))[0] == "paused"
    assert state_of(await requested(client, dep["id"], "none")) == (
        "offering",
        "none",
        ["offeringByRequest"],
    )


async def test_resume_of_a_scheduled_deployment_goes_back_to_scheduled(
    client: httpx.AsyncClient,
) -> None:
    dep = await create_deployment(
        client, settings={"schedule": {"startDateTime": "2027-01-01T00:00:00Z"}}
    )
    await requested(client, dep["id"], "paused")
    assert state_of(await requested(client, dep["id"], "none"))[0] == "scheduled"


async def test_invalid_requested_value_is_400(client: httpx.AsyncClient) -> None:
    dep = await create_deployment(client)
    response = await patch(client, dep["id"], {"state": {"requestedValue": "offering"}})
    assert response.status_code == 400
    response = await patch(client, dep["id"], {"state": {"effectiveValue": "paused"}})
    assert response.status_code == 400


async def test_monitoring_signal_pauses_and_request_does_not_lift_it(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client, settings={"monitoring": PAUSE_AT_5})
    state.set_monitoring_signal(dep["id"], 4.9)
    assert state_of(await get_deployment(client, dep["id"]))[0] == "offering"
    state.set_monitoring_signal(dep["id"], 5)
    assert state_of(await get_deployment(client, dep["id"])) == (
        "paused",
        "none",
        ["pausedByMonitoring"],
    )

    both = await requested(client, dep["id"], "paused")
    assert state_of(both) == ("paused", "paused", ["pausedByRequest", "pausedByMonitoring"])
    still = await requested(client, dep["id"], "none")
    assert state_of(still) == ("paused", "none", ["pausedByMonitoring"])


async def test_monitoring_pause_is_sticky_when_the_signal_drops(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client, settings={"monitoring": PAUSE_AT_5})
    state.set_monitoring_signal(dep["id"], 10)
    state.set_monitoring_signal(dep["id"], 1)
    assert state_of(await get_deployment(client, dep["id"]))[2] == ["pausedByMonitoring"]


async def test_raising_the_threshold_above_the_signal_lifts_the_monitoring_pause(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client, settings={"monitoring": PAUSE_AT_5})
    state.set_monitoring_signal(dep["id"], 7)
    unrelated = await patch(
        client, dep["id"], {"settings": {"userExperience": {"offerAsOptional": True}}}
    )
    assert state_of(unrelated.json())[2] == ["pausedByMonitoring"]
    not_enough = {
        "monitoringRules": [{"signal": "rollback", "threshold": 7, "action": "pauseDeployment"}]
    }
    assert (
        state_of((await patch(client, dep["id"], {"settings": {"monitoring": not_enough}})).json())[
            0
        ]
        == "paused"
    )
    raised = {
        "monitoringRules": [{"signal": "rollback", "threshold": 8, "action": "pauseDeployment"}]
    }
    lifted = await patch(client, dep["id"], {"settings": {"monitoring": raised}})
    assert state_of(lifted.json()) == ("offering", "none", ["offeringByRequest"])


async def test_removing_the_rule_lifts_the_monitoring_pause_but_not_a_request_pause(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client, settings={"monitoring": PAUSE_AT_5})
    state.set_monitoring_signal(dep["id"], 50)
    await requested(client, dep["id"], "paused")
    response = await patch(client, dep["id"], {"settings": {"monitoring": {"monitoringRules": []}}})
    assert state_of(response.json()) == ("paused", "paused", ["pausedByRequest"])


async def test_alert_rules_never_pause(client: httpx.AsyncClient, state: SimulatorState) -> None:
    alert = {"monitoringRules": [{"signal": "rollback", "threshold": 1, "action": "alertError"}]}
    dep = await create_deployment(client, settings={"monitoring": alert})
    state.set_monitoring_signal(dep["id"], 90)
    assert state_of(await get_deployment(client, dep["id"]))[0] == "offering"


async def test_archived_is_terminal(client: httpx.AsyncClient) -> None:
    dep = await create_deployment(client)
    archived = await requested(client, dep["id"], "archived")
    assert state_of(archived)[:2] == ("archived", "archived")
    for body in (
        {"state": {"requestedValue": "none"}},
        {"state": {"requestedValue": "archived"}},
        {"settings": {"userExperience": {"offerAsOptional": True}}},
    ):
        response = await patch(client, dep["id"], body)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "Conflict"
    assert state_of(await get_deployment(client, dep["id"]))[0] == "archived"


async def test_outdated_content_faults_and_the_reason_needs_the_prefer_header(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client, content=content(catalog.WIN11_22H2))
    assert state_of(dep) == ("faulted", "none", ["unknownFutureValue"])
    opted = await client.get(
        f"{ROOT}/deployments/{dep['id']}", headers={"Prefer": "include-unknown-enum-members"}
    )
    assert state_of(opted.json())[2] == ["faultedByContentOutdated"]
    assert opted.headers["Preference-Applied"] == "include-unknown-enum-members"


async def test_content_expiring_later_faults_when_the_clock_passes_it(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    dep = await create_deployment(client, content=content(catalog.WIN11_24H2))
    state.clock.set(state.now().replace(year=2027, month=10, day=12, hour=0))
    assert state_of(await get_deployment(client, dep["id"]))[0] == "faulted"
