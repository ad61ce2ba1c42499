"""Drift between Graph and the service's record of a rollout (POST /v1/rollouts/{id}/reconcile
and the periodic reconcile_all): each difference made outside the service is recorded once, as
an audit event by actor `graph` naming the devices concerned, cleared when it is gone, and
never written over our record of settings or audience."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from app.audience.service import accept_audience_change
from app.audit.models import AuditEvent
from app.change_context import ChangeContext
from app.rollouts.drift import canonical_settings, reconcile_all
from app.rollouts.models import Rollout
from app.simulator.deployments import delete_deployment
from app.simulator.models import Audience
from app.simulator.state import SimulatorState
from app.unit_of_work import UnitOfWork
from tests.api.helpers import audit_trail, device_ids, hold_graph_call, rollout_body, rollout_row

NS = "#microsoft.graph.windowsUpdates."
WAVES = {"waves": {"devicesPerWave": 50}}
ROLLBACK_PAUSE_5 = [{"signal": "rollback", "thresholdPercent": 5, "action": "pause"}]


async def rollout_with(
    client: httpx.AsyncClient,
    members: Sequence[str] = (),
    exclusions: Sequence[str] = (),
    **settings: Any,
) -> dict[str, Any]:
    """A rollout whose audience operation has finished (Graph confirmed every device)."""
    created = await client.post("/v1/rollouts", json=rollout_body(**settings))
    assert created.status_code == 201, created.text
    rollout = dict(created.json())
    if members or exclusions:
        answer = await client.post(
            f"/v1/rollouts/{rollout['id']}/audience",
            json={"addDevices": list(members), "addExclusions": list(exclusions)},
            headers={"Prefer": "wait=10"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "succeeded"
    return rollout


async def reconcile(client: httpx.AsyncClient, rollout_id: str, **body: Any) -> dict[str, Any]:
    answer = await client.post(f"/v1/rollouts/{rollout_id}/reconcile", json=body or None)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def audience(simulator: SimulatorState, rollout: dict[str, Any]) -> Audience:
    return simulator.audience_for(rollout["graphDeploymentId"])


async def drift_events(app: FastAPI, rollout_id: str) -> list[AuditEvent]:
    """The rollout's driftFound / driftCleared events, in order."""
    return [e for e in await audit_trail(app, rollout_id) if e.action.startswith("rollout.drift")]


async def devices_listed(client: httpx.AsyncClient, rollout_id: str) -> list[tuple[str, str]]:
    page = (await client.get(f"/v1/rollouts/{rollout_id}/devices?limit=500")).json()
    return [(item["membership"], item["deviceId"]) for item in page["items"]]


async def test_no_drift_records_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members, excluded = device_ids(3), device_ids(1, "2")
    rollout = await rollout_with(
        client,
        members,
        excluded,
        schedule={"startAt": "2026-12-01T08:00:00Z", **WAVES},  # Graph adds P1D between waves
        monitoring=ROLLBACK_PAUSE_5,
        userExperience={"offerAsOptional": True, "daysUntilForcedReboot": 2},
        safeguards={"enabled": False},
    )
    # A PATCH leaves Graph with an explicit (empty) rule list and safeguard list: the same.
    patched = await client.patch(f"/v1/rollouts/{rollout['id']}", json={"monitoring": None})
    assert patched.status_code == 200, patched.text
    simulator.clear_calls()

    report = await reconcile(client, rollout["id"])

    assert report == {
        "rolloutId": rollout["id"],
        "checkedAt": "2026-11-28T12:00:00Z",
        "differences": [],
        "auditEventIds": [],
        "notChecked": [],
    }
    assert await drift_events(app, rollout["id"]) == []
    assert simulator.writes() == []  # reads only
    deployment = rollout["graphDeploymentId"]
    assert simulator.count("GET", f"/deployments/{deployment}/audience/members") == 1
    assert simulator.count("GET", f"/deployments/{deployment}/audience/exclusions") == 1


async def test_no_database_connection_is_held_while_graph_is_read(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client, device_ids(2))
    deployment = rollout["graphDeploymentId"]
    simulator.clear_calls()
    simulator.faults.latency_seconds = 0.2  # every Graph call waits
    # Each connection the check itself takes and gives back, with the Graph calls made by then
    # (read at each event, not sampled: the worker in this process shares the pool).
    taken: dict[int, int] = {}
    spans: list[tuple[int, int]] = []  # (calls when taken, calls when given back)
    checking: asyncio.Task[dict[str, Any]] | None = None

    def calls() -> int:
        return simulator.count("GET", deployment)

    def checked_out(dbapi_connection: object, *_: object) -> None:
        if checking is not None and asyncio.current_task() is checking:
            taken[id(dbapi_connection)] = calls()

    def checked_in(dbapi_connection: object, *_: object) -> None:
        if id(dbapi_connection) in taken:
            spans.append((taken.pop(id(dbapi_connection)), calls()))

    pool = app.state.services.engine.sync_engine.pool
    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "checkin", checked_in)
    try:
        checking = asyncio.create_task(reconcile(client, rollout["id"]))
        report = await checking
    finally:
        event.remove(pool, "checkout", checked_out)
        event.remove(pool, "checkin", checked_in)

    assert report["differences"] == []
    assert calls() == 3  # deployment, members, exclusions
    # The check used the database before Graph's first call and after its last, never between.
    assert spans and not taken
    assert {span for span in spans if span not in {(0, 0), (3, 3)}} == set(), spans


async def test_settings_changed_while_graph_is_read_are_left_to_the_next_check(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rollout = await rollout_with(client, schedule=WAVES)
    # Graph has answered; the answer waits until the PATCH below has committed.
    read, release = hold_graph_call(
        monkeypatch, app.state.services.graph, "get_deployment", answered=True
    )
    checking = asyncio.create_task(reconcile(client, rollout["id"]))
    try:
        async with asyncio.timeout(30):
            await read.wait()  # the check has taken our record and is reading Graph
        async with app.state.services.sessionmaker() as session:  # a PATCH committed meanwhile
            row = await session.get(Rollout, uuid.UUID(rollout["id"]))
            assert row is not None
            row.settings = {**row.settings, "schedule": {"waves": {"devicesPerWave": 60}}}
            await session.commit()
    finally:
        release.set()
    report = await checking

    assert (report["differences"], report["notChecked"]) == ([], ["settings"])
    assert await drift_events(app, rollout["id"]) == []
    [difference] = (await reconcile(client, rollout["id"]))["differences"]
    assert difference["kind"] == "settings"
    assert difference["expected"]["schedule"] == {"gradualRollout": {"devicesPerOffer": 60}}


def test_settings_are_compared_in_one_canonical_form() -> None:
    ours = {
        "@odata.type": NS + "deploymentSettings",
        "schedule": {
            "startDateTime": "2026-12-01T08:00:00Z",
            "gradualRollout": {"durationBetweenOffers": "P7D", "devicesPerOffer": 50},
        },
        "monitoring": {
            "monitoringRules": [
                {"signal": "rollback", "threshold": 5, "action": "pauseDeployment"},
                {"signal": "rollback", "threshold": 2, "action": "alertError"},
            ]
        },
    }
    graphs = {
        "schedule": {
            "@odata.type": NS + "scheduleSettings",
            "startDateTime": "2026-12-01T09:00:00.0000000+01:00",
            "gradualRollout": {"durationBetweenOffers": "PT168H", "devicesPerOffer": 50},
        },
        "monitoring": {
            "monitoringRules": [
                {"signal": "rollback", "threshold": 2, "action": "alertError"},
                {"signal": "rollback", "threshold": 5, "action": "pauseDeployment"},
            ]
        },
        "userExperience": None,
        "contentApplicability": {"safeguard": {"disabledSafeguardProfiles": []}},
    }
    assert canonical_settings(graphs) == canonical_settings(ours)
    defaulted = {"schedule": {"gradualRollout": {"devicesPerOffer": 5}}}
    explicit = {
        "schedule": {"gradualRollout": {"devicesPerOffer": 5, "durationBetweenOffers": "P1D"}}
    }
    assert canonical_settings(explicit) == canonical_settings(defaulted)
    assert canonical_settings({"monitoring": {"monitoringRules": []}}) == {}
    assert canonical_settings(explicit) != canonical_settings(
        {"schedule": {"gradualRollout": {"devicesPerOffer": 5, "durationBetweenOffers": "P2D"}}}
    )


async def test_members_changed_outside_are_recorded_once_and_cleared_once(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members = device_ids(3)
    rollout = await rollout_with(client, members)
    listed_before = await devices_listed(client, rollout["id"])
    [outsider] = device_ids(1, "3")
    graph_audience = audience(simulator, rollout)
    del graph_audience.members[members[0]]  # removed in another tool
    graph_audience.members[outsider] = None  # added in another tool

    report = await reconcile(client, rollout["id"], ticket="INC0042", reason="audit sweep")

    assert report["differences"] == [
        {"kind": "members", "missing": [members[0]], "extra": [outsider], "deviceCount": 2}
    ]
    [found] = await drift_events(app, rollout["id"])
    assert report["auditEventIds"] == [found.id]
    assert (found.actor, found.action, found.outcome) == (
        "graph",
        "rollout.driftFound",
        "succeeded",
    )
    assert (found.ticket, found.reason) == ("INC0042", "audit sweep")
    assert found.device_ids == sorted([members[0], outsider])
    assert found.detail["kind"] == "members"
    assert (found.detail["missing"], found.detail["extra"]) == ([members[0]], [outsider])
    assert (found.detail["missingCount"], found.detail["extraCount"]) == (1, 1)
    assert found.detail["checkedBy"] == "anonymous"
    assert found.graph_request_ids  # the audience reads
    for device in (outsider, members[0]):
        page = (await client.get(f"/v1/audit/events?deviceId={device}")).json()
        assert found.id in [e["id"] for e in page["items"] if e["action"] == "rollout.driftFound"]

    again = await reconcile(client, rollout["id"])

    assert again["differences"] == report["differences"]  # still there, not recorded again
    assert again["auditEventIds"] == []
    assert [e.id for e in await drift_events(app, rollout["id"])] == [found.id]
    assert await devices_listed(client, rollout["id"]) == listed_before  # report only

    graph_audience.members[members[0]] = None
    del graph_audience.members[outsider]
    fixed = await reconcile(client, rollout["id"])

    assert fixed["differences"] == []
    [_, cleared] = await drift_events(app, rollout["id"])
    assert fixed["auditEventIds"] == [cleared.id]
    assert (cleared.actor, cleared.action, cleared.outcome) == (
        "graph",
        "rollout.driftCleared",
        "succeeded",
    )
    assert cleared.device_ids == found.device_ids
    assert cleared.graph_request_ids  # the reads that showed it gone
    assert cleared.detail["kind"] == "members"
    assert cleared.detail["foundEventId"] == found.id
    assert (await reconcile(client, rollout["id"]))["auditEventIds"] == []


async def test_a_dry_run_of_reconcile_answers_the_events_and_records_none(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members = device_ids(2)
    rollout = await rollout_with(client, members)
    del audience(simulator, rollout).members[members[0]]  # removed in another tool
    trail = len(await audit_trail(app, rollout["id"]))
    url = f"/v1/rollouts/{rollout['id']}/reconcile?dryRun=true"
    dry = await client.post(url, json={"ticket": "INC7"})
    assert dry.status_code == 200, dry.text
    assert dry.json()["plan"] == []
    [event] = dry.json()["auditEvents"]
    assert (event["actor"], event["action"], event["ticket"]) == (
        "graph",
        "rollout.driftFound",
        "INC7",
    )
    assert event["detail"]["missing"] == [members[0]]
    assert len(await audit_trail(app, rollout["id"])) == trail
    report = await reconcile(client, rollout["id"])  # the real check still finds it: not recorded
    assert len(report["auditEventIds"]) == 1


async def test_exclusions_changed_outside_are_a_difference_of_their_own(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    members, excluded = device_ids(2), device_ids(2, "2")
    rollout = await rollout_with(client, members, excluded)
    del audience(simulator, rollout).exclusions[excluded[1]]

    report = await reconcile(client, rollout["id"])

    assert report["differences"] == [
        {"kind": "exclusions", "missing": [excluded[1]], "extra": [], "deviceCount": 1}
    ]
    [found] = await drift_events(app, rollout["id"])
    assert found.detail["kind"] == "exclusions"
    assert found.device_ids == [excluded[1]]
    assert ("excluded", excluded[1]) in await devices_listed(client, rollout["id"])


async def test_devices_an_unfinished_operation_is_changing_are_not_drift(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client, device_ids(1))
    [joining] = device_ids(1, "4")
    async with app.state.services.sessionmaker() as session:  # queued, not run yet
        uow = UnitOfWork(session)
        row = await session.get(Rollout, uuid.UUID(rollout["id"]))
        assert row is not None
        context = ChangeContext(actor="tester", ticket=None, reason=None, request_id=None)
        await accept_audience_change(uow, context, row, {"addMember": [joining]})
        await uow.commit()
    audience(simulator, rollout).members[joining] = None  # Graph already shows it

    report = await reconcile(client, rollout["id"])

    assert report["differences"] == []
    assert await drift_events(app, rollout["id"]) == []


async def test_settings_changed_outside_are_reported_not_overwritten(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client, schedule=WAVES, monitoring=ROLLBACK_PAUSE_5)
    deployment = simulator.deployments[rollout["graphDeploymentId"]]
    deployment.settings["schedule"]["gradualRollout"]["devicesPerOffer"] = 500
    simulator.clear_calls()

    report = await reconcile(client, rollout["id"])

    [difference] = report["differences"]
    assert difference["kind"] == "settings"
    assert difference["deviceCount"] == 0
    assert difference["expected"]["schedule"] == {"gradualRollout": {"devicesPerOffer": 50}}
    assert difference["found"]["schedule"] == {"gradualRollout": {"devicesPerOffer": 500}}
    assert difference["expected"]["monitoring"] == difference["found"]["monitoring"]
    [found] = await drift_events(app, rollout["id"])
    assert found.detail["kind"] == "settings"
    assert found.detail["paths"] == ["schedule.gradualRollout.devicesPerOffer"]
    assert (found.detail["expected"], found.detail["found"]) == (
        difference["expected"],
        difference["found"],
    )
    assert found.device_ids == []
    assert simulator.writes() == []  # Graph is not corrected behind anyone's back
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert (got["schedule"], got["monitoring"]) == (rollout["schedule"], rollout["monitoring"])
    assert (await rollout_row(app, rollout["id"])).settings["schedule"] == rollout["schedule"]


async def test_a_pause_made_outside_is_a_state_difference_kept_as_graphs_state(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client)
    simulator.deployments[rollout["graphDeploymentId"]].requested = "paused"

    report = await reconcile(client, rollout["id"])

    assert report["differences"] == [
        {
            "kind": "state",
            "expected": {"effective": "offering", "requested": "none", "reasons": []},
            "found": {"effective": "paused", "requested": "paused", "reasons": ["pausedByRequest"]},
            "deviceCount": 0,
        }
    ]
    [found] = await drift_events(app, rollout["id"])
    assert (found.actor, found.detail["kind"], found.detail["adopted"]) == ("graph", "state", True)
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["state"]["effective"] == "paused"
    # Kept once: neither the read nor the next check records the same change again.
    assert [e.action for e in await audit_trail(app, rollout["id"])][-1] == "rollout.driftFound"
    assert (await reconcile(client, rollout["id"]))["auditEventIds"] == []


async def test_a_deployment_deleted_outside_makes_the_rollout_deleted(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client, device_ids(2))
    delete_deployment(simulator, simulator.deployments[rollout["graphDeploymentId"]])

    report = await reconcile(client, rollout["id"])

    [difference] = report["differences"]
    assert (difference["kind"], difference["found"]["effective"]) == ("state", "deleted")
    assert (await rollout_row(app, rollout["id"])).status == "deleted"
    again = await client.post(f"/v1/rollouts/{rollout['id']}/reconcile")
    assert again.status_code == 409
    assert again.json()["type"] == "urn:problem:rollout-deleted"


async def test_unknown_rollout_is_404_and_one_without_deployment_409(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    for unknown in (str(uuid.uuid4()), "not-a-rollout"):
        missing = await client.post(f"/v1/rollouts/{unknown}/reconcile")
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:problem:rollout-not-found"
    async with app.state.services.sessionmaker() as session:
        creating = Rollout(
            status="creating",
            name="lost create",
            update_kind="feature",
            catalog_entry_id="x",
            settings={},
            created_by="tester",
        )
        session.add(creating)
        await session.commit()
    deleted = await rollout_with(client)
    assert (await client.delete(f"/v1/rollouts/{deleted['id']}")).status_code == 200
    simulator.clear_calls()

    for rollout_id, problem in (
        (str(creating.id), "urn:problem:rollout-not-active"),
        (deleted["id"], "urn:problem:rollout-deleted"),
    ):
        answer = await client.post(f"/v1/rollouts/{rollout_id}/reconcile", json={})
        assert answer.status_code == 409, answer.text
        assert answer.json()["type"] == problem
        assert await drift_events(app, rollout_id) == []
    assert simulator.calls == []  # Graph was not asked


async def test_a_graph_failure_is_a_problem_and_records_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await rollout_with(client)
    simulator.faults.inject(403, method="GET", path_contains=rollout["graphDeploymentId"])

    answer = await client.post(f"/v1/rollouts/{rollout['id']}/reconcile")

    assert answer.status_code == 502, answer.text
    assert answer.json()["rolloutId"] == rollout["id"]
    assert await drift_events(app, rollout["id"]) == []


async def test_reconcile_all_counts_rollouts_with_differences_and_skips_failures(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    services = app.state.services
    clean = await rollout_with(client, device_ids(1))
    members_drift = await rollout_with(client, device_ids(1))
    settings_drift = await rollout_with(client, schedule=WAVES)
    failing = await rollout_with(client, device_ids(1))
    archived = await rollout_with(client, device_ids(1))
    assert (await client.post(f"/v1/rollouts/{archived['id']}/archive")).status_code == 200
    audience(simulator, members_drift).members.clear()
    audience(simulator, archived).members.clear()  # ended: not checked periodically
    deployment = simulator.deployments[settings_drift["graphDeploymentId"]]
    deployment.settings["schedule"]["gradualRollout"]["devicesPerOffer"] = 7
    audience(simulator, failing).members.clear()
    simulator.faults.inject(403, method="GET", path_contains=failing["graphDeploymentId"])

    drifted = await reconcile_all(services.sessionmaker, services.graph, services.clock)

    assert drifted == 2
    for rollout, kinds in (
        (clean, []),
        (members_drift, ["members"]),
        (settings_drift, ["settings"]),
        (failing, []),
        (archived, []),
    ):
        events = await drift_events(app, rollout["id"])
        assert [(e.detail["kind"], e.detail["checkedBy"]) for e in events] == [
            (kind, "reconciler") for kind in kinds
        ]
    async with services.sessionmaker() as session:
        total = len((await session.execute(select(AuditEvent.id))).all())

    assert await reconcile_all(services.sessionmaker, services.graph, services.clock) == 3
    async with services.sessionmaker() as session:  # the failing one now has its event
        assert len((await session.execute(select(AuditEvent.id))).all()) == total + 1
