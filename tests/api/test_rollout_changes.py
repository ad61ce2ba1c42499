"""Changing a rollout after creation: PATCH, pause / resume / archive, delete, list and filter,
and GET refreshing the state from Graph (including changes made outside the service, such as a
monitoring rule pausing the deployment). Each test checks the answer, what Graph received and
what the audit log says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.pagination import encode_cursor
from app.simulator.state import SimulatorState
from tests.api.helpers import audit_trail, rollout_body, rollout_row

NS = "#microsoft.graph.windowsUpdates."
ROLLBACK_PAUSE_5 = [{"signal": "rollback", "thresholdPercent": 5, "action": "pause"}]


async def create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    created = await client.post("/v1/rollouts", json=rollout_body(**overrides))
    assert created.status_code == 201, created.text
    return dict(created.json())


def patches(simulator: SimulatorState, deployment_id: str) -> list[Any]:
    """Bodies of the PATCHes Graph received for one deployment."""
    return [c.body for c in simulator.find("PATCH", f"/deployments/{deployment_id}")]


async def story(app: FastAPI, rollout_id: str) -> list[tuple[str, str, str]]:
    return [(e.action, e.outcome, e.actor) for e in await audit_trail(app, rollout_id)]


# ---- PATCH ----


async def test_patch_name_only_changes_no_graph_setting(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client, schedule={"waves": {"devicesPerWave": 50}})
    simulator.clear_calls()

    patched = await client.patch(
        f"/v1/rollouts/{rollout['id']}", json={"name": "Pilot ring B", "ticket": "CHG1"}
    )

    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Pilot ring B"
    assert patched.json()["schedule"] == rollout["schedule"]
    assert simulator.writes() == []  # Graph has no name field
    assert (await story(app, rollout["id"]))[-1] == ("rollout.update", "succeeded", "anonymous")
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["name"] == "Pilot ring B"


async def test_patch_merges_settings_and_sends_them_to_graph(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(
        client,
        schedule={"waves": {"devicesPerWave": 50, "every": "P7D"}},
        monitoring=ROLLBACK_PAUSE_5,
        userExperience={"offerAsOptional": True},
    )
    deployment_id = rollout["graphDeploymentId"]

    patched = await client.patch(
        f"/v1/rollouts/{rollout['id']}",
        json={"schedule": {"waves": {"devicesPerWave": 200}}, "ticket": "CHG2", "reason": "wider"},
    )

    assert patched.status_code == 200, patched.text
    body = patched.json()
    # Only the field given changed; the rest of the settings stayed as they were.
    assert body["schedule"] == {"waves": {"devicesPerWave": 200, "every": "P7D"}}
    assert body["monitoring"] == ROLLBACK_PAUSE_5
    assert body["userExperience"] == {"offerAsOptional": True}
    assert body["update"] == rollout["update"]
    [sent] = patches(simulator, deployment_id)
    settings = sent["settings"]
    assert settings["schedule"]["gradualRollout"] == {
        "@odata.type": NS + "rateDrivenRolloutSettings",
        "durationBetweenOffers": "P7D",
        "devicesPerOffer": 200,
    }
    assert settings["monitoring"]["monitoringRules"][0]["threshold"] == 5
    assert settings["userExperience"]["offerAsOptional"] is True
    graph_rollout = simulator.deployments[deployment_id].settings["schedule"]["gradualRollout"]
    assert graph_rollout["devicesPerOffer"] == 200

    events = [e for e in await audit_trail(app, rollout["id"]) if e.action == "rollout.update"]
    assert [(e.outcome, e.ticket) for e in events] == [("requested", "CHG2"), ("succeeded", "CHG2")]
    assert events[0].detail["before"]["schedule"]["waves"]["devicesPerWave"] == 50
    assert events[1].detail["after"]["schedule"]["waves"]["devicesPerWave"] == 200
    assert events[1].graph_request_ids == [
        simulator.find("PATCH", f"/deployments/{deployment_id}")[0].request_id
    ]


async def test_patch_that_changes_nothing_calls_nobody(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client, monitoring=ROLLBACK_PAUSE_5)
    trail_before = await story(app, rollout["id"])

    patched = await client.patch(
        f"/v1/rollouts/{rollout['id']}",
        json={"name": rollout["name"], "monitoring": ROLLBACK_PAUSE_5},
    )

    assert patched.status_code == 200, patched.text
    assert simulator.writes()[-1].method == "POST"  # the create; no PATCH
    assert await story(app, rollout["id"]) == trail_before


async def test_patch_removing_the_monitoring_rule_removes_it_at_graph(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    rollout = await create(client, monitoring=ROLLBACK_PAUSE_5)
    deployment_id = rollout["graphDeploymentId"]

    patched = await client.patch(f"/v1/rollouts/{rollout['id']}", json={"monitoring": None})

    assert patched.status_code == 200, patched.text
    assert patched.json()["monitoring"] is None
    [sent] = patches(simulator, deployment_id)
    assert sent["settings"]["monitoring"]["monitoringRules"] == []
    # A 10 % rollback signal no longer pauses anything: the rule is gone at Graph too.
    simulator.set_monitoring_signal(deployment_id, 10)
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["state"]["effective"] == "offering"


async def test_removals_graph_cannot_be_told_are_422_and_send_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    # Graph keeps a settings part a PATCH leaves out, and its settings body cannot say "no
    # schedule" or "no user experience": accepting these would record a change Graph never made.
    rollout = await create(
        client,
        schedule={"waves": {"devicesPerWave": 50}},
        userExperience={"offerAsOptional": True},
        safeguards={"enabled": False},
    )
    trail = await story(app, rollout["id"])

    for patch, field in (
        ({"schedule": None}, "schedule"),
        ({"schedule": {"waves": None}}, "schedule"),
        ({"userExperience": None}, "userExperience"),
    ):
        refused = await client.patch(f"/v1/rollouts/{rollout['id']}", json=patch)
        assert refused.status_code == 422, (patch, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == [field], patch

    assert patches(simulator, rollout["graphDeploymentId"]) == []
    assert await story(app, rollout["id"]) == trail
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert (got["schedule"], got["userExperience"], got["safeguards"]) == (
        rollout["schedule"],
        rollout["userExperience"],
        {"enabled": False},
    )


@pytest.mark.parametrize("patch", [{"safeguards": {"enabled": True}}, {"safeguards": None}])
async def test_safeguards_turned_back_on_are_sent_as_an_empty_opt_out(
    client: httpx.AsyncClient, simulator: SimulatorState, patch: dict[str, object]
) -> None:
    rollout = await create(client, safeguards={"enabled": False})

    changed = await client.patch(f"/v1/rollouts/{rollout['id']}", json=patch)

    assert changed.status_code == 200, changed.text
    assert changed.json()["safeguards"] == {"enabled": True}
    [sent] = patches(simulator, rollout["graphDeploymentId"])
    assert sent["settings"]["contentApplicability"]["safeguard"] == {
        "@odata.type": "#microsoft.graph.windowsUpdates.safeguardSettings",
        "disabledSafeguardProfiles": [],
    }


async def test_patch_of_the_update_is_422_and_sends_nothing(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    simulator.clear_calls()

    refused = await client.patch(
        f"/v1/rollouts/{rollout['id']}",
        json={"update": {"kind": "feature", "version": "Windows 11, version 23H2"}},
    )

    assert refused.status_code == 422
    assert refused.json()["type"] == "urn:problem:update-immutable"
    assert simulator.writes() == []


# ---- pause / resume / archive ----


async def test_pausing_a_paused_rollout_is_200_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    deployment_id = rollout["graphDeploymentId"]
    first = await client.post(f"/v1/rollouts/{rollout['id']}/pause", json={"ticket": "CHG3"})
    assert first.status_code == 200, first.text
    trail = await story(app, rollout["id"])

    again = await client.post(f"/v1/rollouts/{rollout['id']}/pause")

    assert again.status_code == 200, again.text
    assert again.json()["state"] == first.json()["state"]
    assert again.json()["state"]["effective"] == "paused"
    assert again.json()["state"]["reasons"] == ["pausedByRequest"]
    assert len(patches(simulator, deployment_id)) == 1
    assert await story(app, rollout["id"]) == trail


async def test_change_answers_are_the_row_as_the_command_left_it(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The command's executor writes the rollout in a transaction of its own; the answer is read
    after it, so it carries what that transaction wrote (state, Graph ids, updatedAt)."""
    created = await create(client, devices=[], exclusions=[])
    row = await rollout_row(app, created["id"])
    assert created["graphDeploymentId"] == row.graph_deployment_id is not None
    assert created["state"]["effective"] == "offering"
    assert created["updatedAt"] == row.updated_at.isoformat().replace("+00:00", "Z")

    paused = (await client.post(f"/v1/rollouts/{created['id']}/pause")).json()

    row = await rollout_row(app, created["id"])
    assert paused["state"]["requested"] == "paused" == row.graph_state["requested"]
    assert paused["updatedAt"] == row.updated_at.isoformat().replace("+00:00", "Z")
    assert paused["updatedAt"] > created["updatedAt"]


async def test_resume_with_no_body_resumes(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    await client.post(f"/v1/rollouts/{rollout['id']}/pause")

    resumed = await client.post(f"/v1/rollouts/{rollout['id']}/resume")

    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"]["effective"] == "offering"
    assert resumed.json()["state"]["requested"] == "none"
    assert simulator.deployments[rollout["graphDeploymentId"]].requested == "none"


async def test_archived_rollout_refuses_every_change_without_calling_graph(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    archived = await client.post(f"/v1/rollouts/{rollout['id']}/archive", json={})
    assert archived.status_code == 200, archived.text
    assert archived.json()["state"]["effective"] == "archived"
    writes_after_archive = len(simulator.writes())

    for method, path, body in (
        ("POST", "pause", {}),
        ("POST", "resume", {}),
        ("POST", "archive", {}),
        ("PATCH", "", {"monitoring": ROLLBACK_PAUSE_5}),
    ):
        url = f"/v1/rollouts/{rollout['id']}" + (f"/{path}" if path else "")
        refused = await client.request(method, url, json=body)
        assert refused.status_code == 409, (path, refused.text)
        assert refused.json()["type"] == "urn:problem:rollout-archived"

    assert len(simulator.writes()) == writes_after_archive


# ---- delete ----


async def test_delete_keeps_the_rollout_readable_as_deleted(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    deployment_id = rollout["graphDeploymentId"]

    deleted = await client.delete(
        f"/v1/rollouts/{rollout['id']}", params={"ticket": "CHG4", "reason": "wrong ring"}
    )

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["state"]["effective"] == "deleted"
    assert deployment_id not in simulator.deployments
    [call] = simulator.find("DELETE", f"/deployments/{deployment_id}")
    assert call.status == 202
    events = [e for e in await audit_trail(app, rollout["id"]) if e.action == "rollout.delete"]
    assert [(e.outcome, e.ticket, e.reason) for e in events] == [
        ("requested", "CHG4", "wrong ring"),
        ("succeeded", "CHG4", "wrong ring"),
    ]
    assert events[1].graph_request_ids == [call.request_id]

    simulator.clear_calls()
    got = await client.get(f"/v1/rollouts/{rollout['id']}")
    assert got.status_code == 200
    assert got.json()["state"]["effective"] == "deleted"
    assert got.json()["graphDeploymentId"] == deployment_id
    again = await client.delete(f"/v1/rollouts/{rollout['id']}")
    assert again.status_code == 200
    paused = await client.post(f"/v1/rollouts/{rollout['id']}/pause")
    assert paused.status_code == 409
    assert paused.json()["type"] == "urn:problem:rollout-deleted"
    assert simulator.calls == []  # a deleted rollout is never looked up at Graph again


# ---- list, filter, page ----


async def test_list_filters_and_pages_newest_first(
    client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    first = await create(client, name="one", ticket="CHG-A")
    second = await create(
        client,
        name="two",
        ticket="CHG-B",
        update={"kind": "feature", "version": "Windows 11, version 25H2"},
    )
    third = await create(client, name="three", ticket="CHG-A")
    await client.post(f"/v1/rollouts/{second['id']}/pause")

    everything = (await client.get("/v1/rollouts")).json()
    assert [r["name"] for r in everything["items"]] == ["three", "two", "one"]
    assert everything["nextCursor"] is None

    page_1 = (await client.get("/v1/rollouts", params={"limit": 2})).json()
    assert [r["id"] for r in page_1["items"]] == [third["id"], second["id"]]
    page_2 = (
        await client.get("/v1/rollouts", params={"limit": 2, "cursor": page_1["nextCursor"]})
    ).json()
    assert [r["id"] for r in page_2["items"]] == [first["id"]]
    assert page_2["nextCursor"] is None

    async def names(**params: str) -> list[str]:
        listed = await client.get("/v1/rollouts", params=params)
        assert listed.status_code == 200, listed.text
        return [r["name"] for r in listed.json()["items"]]

    assert await names(ticket="CHG-A") == ["three", "one"]
    assert await names(state="paused") == ["two"]
    assert await names(state="offering") == ["three", "one"]
    assert await names(version="windows 11, VERSION 25h2") == ["two"]
    assert await names(state="deleted") == []
    bad = await client.get("/v1/rollouts", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:problem:invalid-cursor"
    # The right keys with values no position has: the same 400, not a 500.
    forged = encode_cursor({"at": "yesterday", "id": "not-a-uuid"})
    bad = await client.get("/v1/rollouts", params={"cursor": forged})
    assert (bad.status_code, bad.json()["type"]) == (400, "urn:problem:invalid-cursor")
    bad = await client.get("/v1/changes", params={"cursor": forged})
    assert (bad.status_code, bad.json()["type"]) == (400, "urn:problem:invalid-cursor")
    assert simulator.count("GET", "/deployments/") == 1  # the pause's refresh; lists read none


# ---- GET refreshes the state; changes made outside are audited ----


async def test_monitoring_pause_is_observed_audited_and_only_lifted_by_a_threshold_change(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client, monitoring=ROLLBACK_PAUSE_5)
    rollout_id, deployment_id = rollout["id"], rollout["graphDeploymentId"]

    simulator.set_monitoring_signal(deployment_id, 7.5)  # above the 5 % rule: Graph pauses
    got = await client.get(f"/v1/rollouts/{rollout_id}")

    assert got.status_code == 200, got.text
    assert got.json()["state"]["effective"] == "paused"
    assert got.json()["state"]["requested"] == "none"
    assert got.json()["state"]["reasons"] == ["pausedByMonitoring"]
    [observed] = [e for e in await audit_trail(app, rollout_id) if e.actor == "graph"]
    assert (observed.action, observed.outcome) == ("rollout.stateObserved", "succeeded")
    assert observed.detail["from"]["effective"] == "offering"
    assert observed.detail["to"] == {
        "effective": "paused",
        "requested": "none",
        "reasons": ["pausedByMonitoring"],
    }
    listed = (await client.get("/v1/rollouts", params={"state": "paused"})).json()
    assert [r["id"] for r in listed["items"]] == [rollout_id]

    # Reading again records nothing new: nothing changed.
    await client.get(f"/v1/rollouts/{rollout_id}")
    assert len([e for e in await audit_trail(app, rollout_id) if e.actor == "graph"]) == 1

    # Resume does not lift a monitoring pause: it is not a paused-by-request.
    resumed = await client.post(f"/v1/rollouts/{rollout_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"]["effective"] == "paused"
    assert resumed.json()["state"]["reasons"] == ["pausedByMonitoring"]
    assert patches(simulator, deployment_id) == []

    # Pause and resume by request leave the monitoring pause in place.
    paused = (await client.post(f"/v1/rollouts/{rollout_id}/pause")).json()
    assert paused["state"]["reasons"] == ["pausedByRequest", "pausedByMonitoring"]
    resumed = (await client.post(f"/v1/rollouts/{rollout_id}/resume")).json()
    assert resumed["state"]["effective"] == "paused"
    assert resumed["state"]["reasons"] == ["pausedByMonitoring"]

    # Raising the threshold above the signal lifts it.
    raised = [{"signal": "rollback", "thresholdPercent": 10, "action": "pause"}]
    patched = await client.patch(f"/v1/rollouts/{rollout_id}", json={"monitoring": raised})
    assert patched.status_code == 200, patched.text
    assert patched.json()["monitoring"] == raised
    assert (
        patches(simulator, deployment_id)[-1]["settings"]["monitoring"]["monitoringRules"][0][
            "threshold"
        ]
        == 10
    )
    assert patched.json()["state"]["effective"] == "offering"
    got = (await client.get(f"/v1/rollouts/{rollout_id}")).json()
    assert got["state"]["effective"] == "offering"
    assert got["state"]["reasons"] == ["offeringByRequest"]


async def test_a_deployment_deleted_outside_shows_as_deleted_and_is_audited(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    del simulator.deployments[rollout["graphDeploymentId"]]

    got = await client.get(f"/v1/rollouts/{rollout['id']}")

    assert got.status_code == 200, got.text
    assert got.json()["state"]["effective"] == "deleted"
    assert (await story(app, rollout["id"]))[-1] == (
        "rollout.deletedOutside",
        "succeeded",
        "graph",
    )
    refused = await client.post(f"/v1/rollouts/{rollout['id']}/pause")
    assert refused.status_code == 409


async def test_deleting_a_deployment_already_deleted_outside_settles_as_deleted(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    del simulator.deployments[rollout["graphDeploymentId"]]

    deleted = await client.delete(f"/v1/rollouts/{rollout['id']}", params={"ticket": "CHG8"})

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["state"]["effective"] == "deleted"
    assert simulator.count("DELETE") == 0
    assert (await story(app, rollout["id"]))[-1] == (
        "rollout.deletedOutside",
        "succeeded",
        "graph",
    )


async def test_a_deployment_gone_between_the_read_and_the_delete_counts_as_deleted(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create(client)
    simulator.faults.inject(404, method="DELETE", code="NotFound", message="gone")

    deleted = await client.delete(f"/v1/rollouts/{rollout['id']}", params={"ticket": "CHG9"})

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["state"]["effective"] == "deleted"
    [refused] = simulator.find("DELETE")
    last = (await audit_trail(app, rollout["id"]))[-1]
    assert (last.action, last.outcome, last.ticket) == ("rollout.delete", "succeeded", "CHG9")
    assert last.detail["alreadyGone"] is True
    assert last.graph_request_ids == [refused.request_id]
