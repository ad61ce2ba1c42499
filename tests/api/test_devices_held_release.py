"""Do no harm to devices: exclusions are never enrolled, a device both member and exclusion is
excluded once, the devices the service enrolled are recorded, those in no active rollout are
listed as held, and releases unenroll them (refusing devices still in an active rollout)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.operations.models import Operation
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body


async def created(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    answer = await client.post("/v1/rollouts", json=rollout_body(**body))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def enrolled_ids(simulator: SimulatorState) -> list[str]:
    """Every device id sent to enrollAssets, in order."""
    return [a["id"] for c in simulator.find("POST", "enrollAssets") for a in c.body["assets"]]


def enrollment(simulator: SimulatorState, device_id: str, category: str = "feature") -> str:
    simulator.apply_due()
    return simulator.devices[device_id].enrollment[category].state


async def held(client: httpx.AsyncClient, category: str = "feature") -> list[dict[str, Any]]:
    answer = await client.get("/v1/devices", params={"held": category, "limit": 500})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def operations_count(app: FastAPI) -> int:
    async with app.state.services.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Operation)) or 0)


async def test_exclusions_are_never_enrolled(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members, excluded, later = device_ids(3, "2"), device_ids(2, "3"), device_ids(2, "4")

    rollout = await created(client, devices=members, exclusions=excluded)
    await app.state.services.operations.idle()
    answer = await client.post(
        f"/v1/rollouts/{rollout['id']}/audience",
        json={"addExclusions": later},
        headers={"Prefer": "wait=5"},
    )

    assert answer.json()["status"] == "succeeded", answer.text
    assert enrolled_ids(simulator) == members
    for device_id in excluded + later:
        assert enrollment(simulator, device_id) == "notEnrolled"
    sent = [
        d["id"] for c in simulator.find("POST", "updateAudience") for d in c.body["addExclusions"]
    ]
    assert sent == excluded + later
    assert all(enrollment(simulator, d) == "enrolled" for d in members)


async def test_a_device_both_member_and_exclusion_is_excluded_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    both, members = device_ids(1, "5"), device_ids(2, "6")
    rollout = await created(client, devices=members + both, exclusions=both)
    await app.state.services.operations.idle()

    listed = (await client.get(f"/v1/rollouts/{rollout['id']}/devices")).json()["items"]
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    device = (await client.get(f"/v1/devices/{both[0]}")).json()
    only_members = await client.get(
        f"/v1/rollouts/{rollout['id']}/devices", params={"membership": "member"}
    )

    assert sorted((d["membership"], d["deviceId"]) for d in listed) == sorted(
        [("excluded", both[0])] + [("member", d) for d in members]
    )
    assert got["audience"] == {"members": 2, "exclusions": 1}
    [in_list] = (await client.get("/v1/rollouts")).json()["items"]  # counted by the list's query
    assert in_list["audience"] == got["audience"]
    assert [(r["rolloutId"], r["membership"]) for r in device["rollouts"]] == [
        (rollout["id"], "excluded")
    ]
    assert [d["deviceId"] for d in only_members.json()["items"]] == sorted(members)


async def test_archiving_warns_how_many_devices_stay_held_and_lists_them(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members, excluded = device_ids(3, "2"), device_ids(1, "3")
    rollout = await created(client, devices=members, exclusions=excluded)
    await app.state.services.operations.idle()
    assert await held(client) == []  # in an active rollout: not held

    archived = await client.post(f"/v1/rollouts/{rollout['id']}/archive", json={"ticket": "C1"})

    assert archived.status_code == 200, archived.text
    body = archived.json()
    assert body["releaseOperation"] is None
    assert [(w["code"], w["count"]) for w in body["warnings"]] == [("devicesHeld", 3)]
    assert "GET /v1/devices?held=feature" in body["warnings"][0]["message"]
    listed = await held(client)
    assert [d["deviceId"] for d in listed] == sorted(members)  # never the exclusion
    assert {d["lastRollout"]["rolloutId"] for d in listed} == {rollout["id"]}
    assert all(d["heldSince"] and d["category"] == "feature" for d in listed)
    assert await held(client, "quality") == []
    assert simulator.count("POST", "unenrollAssets") == 0  # nothing released unasked


async def test_archive_with_release_devices_unenrolls_them_in_an_operation(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members = device_ids(450, "2")
    rollout = await created(client, devices=members)
    await app.state.services.operations.idle()

    archived = await client.post(
        f"/v1/rollouts/{rollout['id']}/archive",
        json={"ticket": "CHG9", "reason": "pilot over", "releaseDevices": True},
    )

    assert archived.status_code == 200, archived.text
    release = archived.json()["releaseOperation"]
    assert archived.json()["warnings"] == []
    assert (release["kind"], release["total"], release["rolloutId"]) == (
        "devices.release",
        450,
        rollout["id"],
    )
    await app.state.services.operations.idle()
    finished = (await client.get(f"/v1/operations/{release['id']}")).json()
    assert (finished["status"], finished["succeeded"], finished["failed"]) == (
        "succeeded",
        450,
        0,
    )
    calls = simulator.find("POST", "unenrollAssets")
    assert sorted(len(c.body["assets"]) for c in calls) == [50, 200, 200]
    assert {c.body["updateCategory"] for c in calls} == {"feature"}
    # 450 devices to confirm: one listing of every asset, not 450 reads.
    assert simulator.find("GET", path_endswith="/updatableAssets")
    assert not simulator.find("GET", "/updatableAssets/")
    assert all(enrollment(simulator, d) == "notEnrolled" for d in members)
    assert await held(client) == []
    events = (
        await client.get("/v1/audit/events", params={"deviceId": members[-1], "limit": 500})
    ).json()["items"]
    actions = [(e["action"], e["outcome"]) for e in events]
    assert ("devices.release", "requested") in actions
    assert ("devices.unenroll", "succeeded") in actions
    assert ("devices.release", "succeeded") in actions
    releasing = ("devices.release", "devices.unenroll")
    assert {e["ticket"] for e in events if e["action"] in releasing} == {"CHG9"}


async def test_delete_with_release_devices_keeps_devices_of_other_active_rollouts(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    shared, own = device_ids(2, "2"), device_ids(3, "3")
    first = await created(client, name="first", devices=shared + own)
    second = await created(client, name="second", devices=shared)
    await app.state.services.operations.idle()

    deleted = await client.delete(
        f"/v1/rollouts/{first['id']}", params={"releaseDevices": "true", "ticket": "C2"}
    )

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["state"]["effective"] == "deleted"
    release = deleted.json()["releaseOperation"]
    assert release["total"] == 3
    await app.state.services.operations.idle()
    released = [a["id"] for c in simulator.find("POST", "unenrollAssets") for a in c.body["assets"]]
    assert sorted(released) == sorted(own)
    assert all(enrollment(simulator, d) == "enrolled" for d in shared)
    assert await held(client) == []
    assert (await client.get(f"/v1/rollouts/{second['id']}")).json()["audience"]["members"] == 2


async def test_release_refuses_devices_in_an_active_rollout_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members = device_ids(2, "2")
    await created(client, devices=members)
    await app.state.services.operations.idle()
    writes, events, operations = (
        len(simulator.writes()),
        await _events(app),
        await operations_count(app),
    )
    free = device_ids(1, "7")

    refused = await client.post(
        "/v1/devices/release",
        json={"category": "feature", "devices": [free[0], members[1]], "ticket": "C3"},
    )

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:problem:devices-in-active-rollout"
    assert [e["field"] for e in problem["errors"]] == ["devices[1]"]
    assert members[1] in problem["errors"][0]["message"]
    assert len(simulator.writes()) == writes
    assert await _events(app) == events
    assert await operations_count(app) == operations


async def test_release_of_held_devices_asked_directly(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members = device_ids(3, "2")
    rollout = await created(client, devices=members)
    await app.state.services.operations.idle()
    await client.post(f"/v1/rollouts/{rollout['id']}/archive")

    answer = await client.post(
        "/v1/devices/release",
        json={"category": "feature", "devices": members[:2], "ticket": "C4", "reason": "done"},
        headers={"Prefer": "wait=5"},
    )

    assert answer.status_code == 200, answer.text
    operation = answer.json()
    assert answer.headers["location"] == f"/v1/operations/{operation['id']}"
    assert (operation["kind"], operation["rolloutId"], operation["status"]) == (
        "devices.release",
        None,
        "succeeded",
    )
    assert [d["deviceId"] for d in await held(client)] == [members[2]]
    assert [enrollment(simulator, d) for d in members] == ["notEnrolled"] * 2 + ["enrolled"]
    # Two devices to confirm: each read on its own, not the listing of every asset.
    read = sorted(c.path.rsplit("/", 1)[-1] for c in simulator.find("GET", "/updatableAssets/"))
    assert read == sorted(members[:2])
    assert not simulator.find("GET", path_endswith="/updatableAssets")


async def test_held_listing_pages_and_refuses_unknown_categories(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    members = device_ids(5, "2")
    rollout = await created(client, devices=members)
    await app.state.services.operations.idle()
    await client.delete(f"/v1/rollouts/{rollout['id']}")

    seen: list[str] = []
    cursor = None
    while True:
        params = {"held": "feature", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/devices", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [d["deviceId"] for d in page["items"]]
        if (cursor := page["nextCursor"]) is None:
            break

    assert seen == sorted(members)
    unknown = await client.get("/v1/devices", params={"held": "firmware"})
    missing = await client.get("/v1/devices")
    assert (unknown.status_code, missing.status_code) == (422, 422)
    assert unknown.json()["errors"][0]["field"] == "held"


async def _events(app: FastAPI) -> int:
    async with app.state.services.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
