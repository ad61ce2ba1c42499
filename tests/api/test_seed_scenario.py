"""The seed scenario end to end through /v1, against the simulator: list deployable feature
updates; create an optional, rate-driven rollout (100 devices every 7 days) with a rollback →
pause rule at 5 %; add devices; pause; resume; archive. Graph received exactly the bodies
graph.md describes, and the audit log tells the whole story with ticket and actor."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.simulator.state import SimulatorState
from tests.api.helpers import W11_24H2, audit_trail, device_ids

NS = "#microsoft.graph.windowsUpdates."


async def test_seed_scenario(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    listed = await client.get("/v1/catalog/feature-updates", params={"deployable": "true"})
    assert listed.status_code == 200
    versions = {item["version"]: item for item in listed.json()["items"]}
    assert W11_24H2 in versions
    assert "Windows 11, version 22H2" not in versions  # past its deployable date
    assert all(item["deployable"] for item in listed.json()["items"])
    entry_id = versions[W11_24H2]["catalogEntryId"]

    first_devices = device_ids(3)
    created = await client.post(
        "/v1/rollouts",
        headers={"X-Request-ID": "seed-create"},
        json={
            "name": "Windows 11 24H2 – pilot ring",
            "ticket": "CHG0012345",
            "reason": "Quarterly OS upgrade, pilot",
            "update": {"kind": "feature", "version": W11_24H2},
            "devices": first_devices,
            "schedule": {"waves": {"devicesPerWave": 100, "every": "P7D"}},
            "monitoring": [{"signal": "rollback", "thresholdPercent": 5, "action": "pause"}],
            "userExperience": {"offerAsOptional": True},
        },
    )
    assert created.status_code == 201, created.text
    rollout = created.json()
    rollout_id = rollout["id"]
    assert created.headers["location"] == f"/v1/rollouts/{rollout_id}"
    assert rollout["update"] == {
        "kind": "feature",
        "catalogEntryId": entry_id,
        "version": W11_24H2,
        "displayName": versions[W11_24H2]["displayName"],
        "buildNumber": "26100",
        "expedite": None,
        "readinessTest": None,
    }
    assert rollout["state"]["effective"] == "offering"
    assert rollout["schedule"] == {"waves": {"devicesPerWave": 100, "every": "P7D"}}
    assert rollout["audienceOperation"]["total"] == 3

    # Graph received a standalone audience, then the deployment bound to it, field for field.
    audience_posts = simulator.find("POST", "/deploymentAudiences")
    assert len(audience_posts) == 1 and audience_posts[0].status == 201
    # (the exact path: the worker may already be adding the devices, with POSTs under it)
    deployment_posts = simulator.find("POST", path_endswith="/admin/windows/updates/deployments")
    assert len(deployment_posts) == 1 and deployment_posts[0].status == 201
    assert deployment_posts[0].client_request_id == "seed-create"
    graph_body = deployment_posts[0].body
    audience_id = graph_body["audience"]["id"]
    assert graph_body == {
        "@odata.type": NS + "deployment",
        "content": {
            "@odata.type": NS + "catalogContent",
            "catalogEntry": {"@odata.type": NS + "featureUpdateCatalogEntry", "id": entry_id},
        },
        "settings": {
            "@odata.type": NS + "deploymentSettings",
            "schedule": {
                "@odata.type": NS + "scheduleSettings",
                "gradualRollout": {
                    "@odata.type": NS + "rateDrivenRolloutSettings",
                    "durationBetweenOffers": "P7D",
                    "devicesPerOffer": 100,
                },
            },
            "monitoring": {
                "@odata.type": NS + "monitoringSettings",
                "monitoringRules": [
                    {
                        "@odata.type": NS + "monitoringRule",
                        "signal": "rollback",
                        "threshold": 5,
                        "action": "pauseDeployment",
                    }
                ],
            },
            "userExperience": {
                "@odata.type": NS + "userExperienceSettings",
                "offerAsOptional": True,
            },
        },
        "audience": {"@odata.type": NS + "deploymentAudience", "id": audience_id},
    }
    deployment_id = rollout["graphDeploymentId"]

    await app.state.services.operations.idle()
    operation = (await client.get(f"/v1/operations/{rollout['audienceOperation']['id']}")).json()
    assert (operation["status"], operation["succeeded"], operation["failed"]) == ("succeeded", 3, 0)
    assert sorted(simulator.members(audience_id)) == sorted(first_devices)

    more = device_ids(2)
    added = await client.post(
        f"/v1/rollouts/{rollout_id}/audience",
        headers={"Prefer": "wait=10"},
        json={"addDevices": more, "ticket": "CHG0012399", "reason": "Add finance floor 3"},
    )
    assert added.status_code == 200, added.text
    assert added.json()["status"] == "succeeded"
    assert sorted(simulator.members(audience_id)) == sorted(first_devices + more)
    enrolls = simulator.find("POST", "enrollAssets")
    assert sorted(d["id"] for c in enrolls for d in c.body["assets"]) == sorted(
        first_devices + more
    )
    assert {c.body["updateCategory"] for c in enrolls} == {"feature"}

    got = (await client.get(f"/v1/rollouts/{rollout_id}")).json()
    assert got["audience"] == {"members": 5, "exclusions": 0}

    for action, effective, requested in (
        ("pause", "paused", "paused"),
        ("resume", "offering", "none"),
        ("archive", "archived", "archived"),
    ):
        changed = await client.post(
            f"/v1/rollouts/{rollout_id}/{action}",
            json={"ticket": f"CHG-{action}", "reason": f"{action} for the test"},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["state"]["effective"] == effective
        assert changed.json()["state"]["requested"] == requested
        patch = simulator.find("PATCH", f"/deployments/{deployment_id}")[-1]
        assert patch.body == {
            "@odata.type": NS + "deployment",
            "state": {"@odata.type": NS + "deploymentState", "requestedValue": requested},
        }

    refused = await client.post(f"/v1/rollouts/{rollout_id}/pause", json={})
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:problem:rollout-archived"

    story = [
        (e.action, e.outcome, e.ticket, e.actor)
        for e in await audit_trail(app, rollout_id)
        if not e.action.startswith(("graph.", "devices."))
    ]
    assert story == [
        ("rollout.create", "requested", "CHG0012345", "anonymous"),
        ("audience.update", "requested", "CHG0012345", "anonymous"),
        ("rollout.create", "succeeded", "CHG0012345", "anonymous"),
        ("audience.update", "succeeded", "CHG0012345", "anonymous"),
        ("audience.update", "requested", "CHG0012399", "anonymous"),
        ("audience.update", "succeeded", "CHG0012399", "anonymous"),
        ("rollout.pause", "requested", "CHG-pause", "anonymous"),
        ("rollout.pause", "succeeded", "CHG-pause", "anonymous"),
        ("rollout.resume", "requested", "CHG-resume", "anonymous"),
        ("rollout.resume", "succeeded", "CHG-resume", "anonymous"),
        ("rollout.archive", "requested", "CHG-archive", "anonymous"),
        ("rollout.archive", "succeeded", "CHG-archive", "anonymous"),
    ]
