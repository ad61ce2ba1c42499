"""Audience changes as operations: chunking to Graph-sized calls, enrollment first, per-device
outcomes, partial failures, throttling storms, listing the confirmed audience, and an operation
left unfinished by a crash being completed without sending anything twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from app.audience.models import AudienceDevice
from app.audience.service import accept_audience_change
from app.change_context import ChangeContext
from app.operations.models import Operation, OperationItem
from app.operations.queueing import queue_operation
from app.rollouts.models import Rollout
from app.settings import Settings
from app.simulator.calls import CallRecord
from app.simulator.state import SimulatorState
from app.unit_of_work import UnitOfWork
from tests.api.helpers import audit_trail, device_ids, rollout_body

MAX_IDS = 200  # GRAPH_MAX_IDS_PER_CALL's default


async def create_rollout(client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post("/v1/rollouts", json=rollout_body())
    assert created.status_code == 201, created.text
    return dict(created.json())


def audience_of(simulator: SimulatorState, rollout: dict[str, Any]) -> str:
    return simulator.deployments[rollout["graphDeploymentId"]].audience_id


def sent_ids(calls: list[CallRecord], key: str) -> list[str]:
    """Every device id the calls carried in `key` (assets, addMembers, ...), in order."""
    return [device["id"] for call in calls for device in (call.body or {}).get(key, [])]


async def change(
    client: httpx.AsyncClient, rollout_id: str, body: dict[str, Any], wait: int | None = 5
) -> httpx.Response:
    headers = {"Prefer": f"wait={wait}"} if wait else {}
    return await client.post(f"/v1/rollouts/{rollout_id}/audience", json=body, headers=headers)


async def items_of(app: FastAPI, operation_id: str) -> list[OperationItem]:
    async with app.state.services.sessionmaker() as session:
        rows = await session.execute(
            select(OperationItem)
            .where(OperationItem.operation_id == uuid.UUID(operation_id))
            .order_by(OperationItem.seq)
        )
        return list(rows.scalars())


async def test_1001_devices_go_in_chunks_each_device_once(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    devices = device_ids(1001)

    answer = await change(client, rollout["id"], {"addDevices": devices, "ticket": "CHG7"})

    assert answer.status_code == 200, answer.text
    assert answer.headers["preference-applied"] == "wait=5"
    operation = answer.json()
    assert answer.headers["location"] == f"/v1/operations/{operation['id']}"
    assert (operation["status"], operation["total"], operation["succeeded"]) == (
        "succeeded",
        1001,
        1001,
    )
    assert (operation["failed"], operation["errors"], operation["ticket"]) == (0, [], "CHG7")
    assert operation["finishedAt"] is not None

    enrolls = simulator.find("POST", "enrollAssets")
    updates = simulator.find("POST", "updateAudience")
    for calls, key in ((enrolls, "assets"), (updates, "addMembers")):
        assert len(calls) == 6
        assert all(c.status == 202 for c in calls)
        assert sorted(len(c.body[key]) for c in calls) == [1, 200, 200, 200, 200, 200]
        assert sorted(sent_ids(calls, key)) == sorted(devices)  # each device exactly once
    assert {c.body["updateCategory"] for c in enrolls} == {"feature"}
    # Every chunk was enrolled before its audience change was sent (chunks run concurrently).
    writes = simulator.writes()
    for update_call in updates:
        chunk = {d["id"] for d in update_call.body["addMembers"]}
        enrolled_before = {
            a["id"]
            for c in writes[: writes.index(update_call)]
            if c.path.endswith("enrollAssets")
            for a in c.body["assets"]
        }
        assert chunk <= enrolled_before
    assert sorted(simulator.members(audience_of(simulator, rollout))) == sorted(devices)

    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["audience"] == {"members": 1001, "exclusions": 0}
    trail = await audit_trail(app, rollout["id"])
    chunk_events = [e for e in trail if e.action == "graph.updateAudience"]
    assert Counter(e.outcome for e in chunk_events) == {"requested": 6, "succeeded": 6}
    assert sorted(
        rid for e in chunk_events if e.outcome == "succeeded" for rid in e.graph_request_ids
    ) == sorted(c.request_id for c in updates)
    summary = [(e.action, e.outcome) for e in trail if e.action == "audience.update"]
    assert summary == [("audience.update", "requested"), ("audience.update", "succeeded")]


async def test_a_chunks_two_intents_are_committed_together_before_its_first_call(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """One commit per chunk, not two: the enrollment's `requested` event goes in with the
    audience change's (one transaction: the same `at`, consecutive seq), both naming the
    chunk's devices, and both outcomes come after them."""
    rollout = await create_rollout(client)
    devices = device_ids(450)

    answer = await change(client, rollout["id"], {"addDevices": devices})

    assert answer.json()["status"] == "succeeded", answer.text
    trail = await audit_trail(app, rollout["id"])
    by_seq = {e.seq: e for e in trail}
    enrolls = [e for e in trail if (e.action, e.outcome) == ("devices.enroll", "requested")]
    assert sorted(len(e.device_ids) for e in enrolls) == [50, 200, 200]
    for intent in enrolls:
        change_intent = by_seq[intent.seq + 1]
        assert (change_intent.action, change_intent.outcome) == (
            "graph.updateAudience",
            "requested",
        )
        assert change_intent.at == intent.at
        assert change_intent.device_ids == intent.device_ids
        outcomes = [e for e in trail if e.intent_id in (intent.id, change_intent.id)]
        assert sorted((e.action, e.outcome) for e in outcomes) == [
            ("devices.enroll", "succeeded"),
            ("graph.updateAudience", "succeeded"),
        ]
        assert all(e.seq > change_intent.seq and e.at > intent.at for e in outcomes)


async def test_a_chunks_outcomes_are_committed_with_the_next_chunks_intents_in_its_lane(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    """Each of GRAPH_CONCURRENCY lanes sends chunks one after another, and a chunk's outcomes
    (and its devices marked sent) go in with the next chunk's intents (one transaction: the
    same `at`); only each lane's last chunk commits its end alone."""
    rollout = await create_rollout(client)
    devices = device_ids(1001)  # 6 chunks

    answer = await change(client, rollout["id"], {"addDevices": devices})

    assert answer.json()["status"] == "succeeded", answer.text
    trail = await audit_trail(app, rollout["id"])
    by_at: dict[Any, list[Any]] = {}
    for event in trail:
        by_at.setdefault(event.at, []).append(event)
    ends = [e for e in trail if (e.action, e.outcome) == ("graph.updateAudience", "succeeded")]
    assert len(ends) == 6
    followed = []
    for end in ends:
        together = {(e.action, e.outcome): e for e in by_at[end.at]}
        enrolled = together.get(("devices.enroll", "succeeded"))
        assert enrolled is not None and enrolled.device_ids == end.device_ids  # its chunk's
        intent = together.get(("devices.enroll", "requested"))
        if intent is not None:
            followed.append((end, intent))
            assert ("graph.updateAudience", "requested") in together
    lanes = min(settings.graph_concurrency, 6)
    assert len(followed) == 6 - lanes
    for end, intent in followed:
        assert not set(end.device_ids) & set(intent.device_ids)  # the next chunk's devices


async def test_without_prefer_the_answer_is_202_with_the_operation_to_poll(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    devices = device_ids(3)

    answer = await change(client, rollout["id"], {"addDevices": devices}, wait=None)

    assert answer.status_code == 202, answer.text
    operation = answer.json()
    assert answer.headers["location"] == f"/v1/operations/{operation['id']}"
    assert operation["status"] in ("queued", "running")
    assert operation["kind"] == "audience.update"
    assert operation["rolloutId"] == rollout["id"]
    await app.state.services.operations.idle()
    polled = await client.get(answer.headers["location"])
    assert polled.status_code == 200
    assert (polled.json()["status"], polled.json()["succeeded"]) == ("succeeded", 3)
    assert sorted(simulator.members(audience_of(simulator, rollout))) == sorted(devices)


async def test_devices_listing_pages_and_filters_by_membership(
    client: httpx.AsyncClient,
) -> None:
    rollout = await create_rollout(client)
    members, excluded = device_ids(7, "2"), device_ids(3, "3")
    answer = await change(client, rollout["id"], {"addDevices": members, "addExclusions": excluded})
    assert answer.json()["status"] == "succeeded", answer.text
    url = f"/v1/rollouts/{rollout['id']}/devices"

    async def walk(**params: Any) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        cursor = None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page = await client.get(url, params=query)
            assert page.status_code == 200, page.text
            assert len(page.json()["items"]) <= params.get("limit", 50)
            seen += [(d["membership"], d["deviceId"]) for d in page.json()["items"]]
            cursor = page.json()["nextCursor"]
            if cursor is None:
                return seen

    everything = await walk(limit=4)
    assert everything == sorted(
        [("excluded", d) for d in excluded] + [("member", d) for d in members]
    )
    assert await walk(membership="member", limit=3) == sorted(("member", d) for d in members)
    assert await walk(membership="excluded") == sorted(("excluded", d) for d in excluded)
    assert (await client.get(url, params={"membership": "both"})).status_code == 422
    missing = await client.get(f"/v1/rollouts/{uuid.uuid4()}/devices")
    assert missing.status_code == 404


async def test_removing_members_and_exclusions(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    audience_id = audience_of(simulator, rollout)
    members, excluded = device_ids(5, "2"), device_ids(2, "3")
    await change(client, rollout["id"], {"addDevices": members, "addExclusions": excluded})
    enrolls_before = simulator.count("POST", "enrollAssets")

    answer = await change(
        client,
        rollout["id"],
        {"removeDevices": members[:2], "removeExclusions": excluded[:1], "reason": "moved"},
    )

    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["total"]) == ("succeeded", 3)
    last = simulator.find("POST", "updateAudience")[-1]
    assert sent_ids([last], "removeMembers") == members[:2]
    assert sent_ids([last], "removeExclusions") == excluded[:1]
    assert "addMembers" not in last.body
    assert simulator.count("POST", "enrollAssets") == enrolls_before  # removals enroll nothing
    assert sorted(simulator.members(audience_id)) == sorted(members[2:])
    assert simulator.exclusions(audience_id) == excluded[1:]
    listed = (await client.get(f"/v1/rollouts/{rollout['id']}/devices")).json()["items"]
    assert sorted((d["membership"], d["deviceId"]) for d in listed) == sorted(
        [("member", d) for d in members[2:]] + [("excluded", excluded[1])]
    )
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["audience"] == {"members": 3, "exclusions": 1}


async def test_adding_and_removing_the_same_device_is_422_and_records_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    both, other = device_ids(2, "4"), device_ids(1, "5")
    writes = len(simulator.writes())
    trail = len(await audit_trail(app, rollout["id"]))

    refused = await change(
        client,
        rollout["id"],
        {
            "addDevices": both + other,
            "removeDevices": both,
            "addExclusions": other,
            "removeExclusions": other,
        },
    )

    assert refused.status_code == 422, refused.text
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert set(errors) == {"removeDevices", "removeExclusions"}
    assert all(d in errors["removeDevices"] for d in both)
    assert len(simulator.writes()) == writes
    assert len(await audit_trail(app, rollout["id"])) == trail
    async with app.state.services.sessionmaker() as session:
        assert (await session.execute(select(Operation))).first() is None


@pytest.fixture
def one_chunk_at_a_time(app: FastAPI) -> None:
    """Chunks in order, one at a time, so a test can say which chunk met which answer."""
    app.state.services.jobs.executor.concurrency = 1


@pytest.mark.usefixtures("one_chunk_at_a_time")
async def test_one_chunk_refused_makes_a_partial_success_with_per_device_errors(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    devices = device_ids(450)
    simulator.faults.inject(
        400, path_contains="updateAudience", code="BadRequest", message="Invalid device list."
    )

    answer = await change(client, rollout["id"], {"addDevices": devices})

    assert answer.status_code == 200, answer.text
    operation = answer.json()
    assert (operation["status"], operation["succeeded"], operation["failed"]) == (
        "partiallySucceeded",
        250,
        200,
    )
    assert [e["deviceId"] for e in operation["errors"]] == devices[:200]
    assert {(e["change"], e["code"], e["message"]) for e in operation["errors"]} == {
        ("addMember", "BadRequest", "Invalid device list.")
    }
    refused, *accepted = simulator.find("POST", "updateAudience")
    assert refused.status == 400 and [c.status for c in accepted] == [202, 202]
    assert sorted(simulator.members(audience_of(simulator, rollout))) == sorted(devices[200:])

    failed = [
        e
        for e in await audit_trail(app, rollout["id"])
        if (e.action, e.outcome) == ("graph.updateAudience", "failed")
    ]
    assert len(failed) == 1
    assert failed[0].graph_request_ids == [refused.request_id]
    assert failed[0].device_ids == devices[:200]
    assert failed[0].detail["graphError"] == "BadRequest"
    final = [e for e in await audit_trail(app, rollout["id"]) if e.action == "audience.update"]
    assert (final[-1].outcome, final[-1].detail["status"]) == ("failed", "partiallySucceeded")
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["audience"]["members"] == 250


@pytest.mark.usefixtures("one_chunk_at_a_time")
async def test_an_enrollment_refused_fails_its_members_and_sends_the_chunks_other_changes(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    """The chunk's audience change intent was committed with the enrollment's: it is closed
    as not sent, and the exclusions of the chunk go out under an intent of their own."""
    rollout = await create_rollout(client)
    members, exclusions = device_ids(100), device_ids(50, first_hex="e")
    simulator.faults.inject(
        400, path_contains="enrollAssets", code="BadRequest", message="Invalid asset."
    )

    answer = await change(
        client, rollout["id"], {"addDevices": members, "addExclusions": exclusions}
    )

    operation = answer.json()
    assert (operation["status"], operation["succeeded"], operation["failed"]) == (
        "partiallySucceeded",
        50,
        100,
    )
    assert {(e["deviceId"], e["code"]) for e in operation["errors"]} == {
        (d, "BadRequest") for d in members
    }
    [update] = simulator.find("POST", "updateAudience")
    assert (sent_ids([update], "addMembers"), sent_ids([update], "addExclusions")) == (
        [],
        exclusions,
    )
    trail = await audit_trail(app, rollout["id"])
    changes = [e for e in trail if e.action == "graph.updateAudience"]
    assert [(e.outcome, len(e.device_ids)) for e in changes] == [
        ("requested", 150),
        ("failed", 150),
        ("requested", 50),
        ("succeeded", 50),
    ]
    assert changes[1].intent_id == changes[0].id and changes[3].intent_id == changes[2].id
    assert changes[1].detail == {
        "notSent": "not sent: the enrollment of its members failed with BadRequest"
    }
    assert changes[1].graph_request_ids == []
    enrolls = [(e.action, e.outcome) for e in trail if e.action == "devices.enroll"]
    assert enrolls == [("devices.enroll", "requested"), ("devices.enroll", "failed")]


async def _queued_change(app: FastAPI, rollout: dict[str, Any], devices: list[str]) -> uuid.UUID:
    """An audience operation recorded as a request would, its job not run yet."""
    async with app.state.services.sessionmaker() as session:
        uow = UnitOfWork(session)
        row = await session.get(Rollout, uuid.UUID(rollout["id"]))
        assert row is not None
        context = ChangeContext(actor="ops", ticket="CHG8", reason=None, request_id="r-storm")
        operation = await accept_audience_change(uow, context, row, {"addMember": devices})
        await uow.commit()
        return operation.id


@pytest.mark.usefixtures("one_chunk_at_a_time")
async def test_a_503_storm_leaves_the_devices_pending_and_the_operation_tries_again(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    devices = device_ids(500)
    simulator.faults.inject(503, count=1000, retry_after=0, path_contains="updateAudience")

    answer = await change(client, rollout["id"], {"addDevices": devices}, wait=None)
    await app.state.services.operations.idle()  # the first attempt ran; the next is scheduled

    waiting = (await client.get(answer.headers["location"])).json()
    assert (waiting["status"], waiting["succeeded"], waiting["failed"]) == ("running", 0, 0)
    assert waiting["retrying"]["code"] == "ServiceUnavailable"
    # The first chunk was tried until the retry budget ran out; the others were never sent.
    max_attempts = app.state.services.settings.graph_max_attempts
    assert simulator.count("POST", "updateAudience") == max_attempts
    assert {i.status for i in await items_of(app, waiting["id"])} == {"pending"}

    simulator.faults.clear()  # Graph is back: the job's next attempt (2 s later) finishes it
    deadline = asyncio.get_running_loop().time() + 20
    while (done := (await client.get(answer.headers["location"])).json())["status"] == "running":
        assert asyncio.get_running_loop().time() < deadline, done
        await asyncio.sleep(0.2)
    assert (done["status"], done["succeeded"], done["retrying"]) == ("succeeded", 500, None)
    assert sorted(simulator.members(audience_of(simulator, rollout))) == sorted(devices)


async def _last_attempt_in_a_storm(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState, path: str
) -> tuple[dict[str, Any], list[str]]:
    """500 devices sent on the operation's last attempt while every `path` call answers 503:
    the first chunk fails with Graph's error, the rest are not attempted."""
    rollout = await create_rollout(client)
    devices = device_ids(500)
    operation_id = await _queued_change(app, rollout, devices)
    simulator.faults.inject(503, count=1000, retry_after=0, path_contains=path)

    await app.state.services.jobs.executor.apply(operation_id, final=True)

    simulator.faults.clear()
    operation = (await client.get(f"/v1/operations/{operation_id}")).json()
    assert (operation["status"], operation["succeeded"], operation["failed"]) == ("failed", 0, 500)
    codes = Counter(e["code"] for e in operation["errors"])
    assert codes == {"ServiceUnavailable": 200, "notAttempted": 300}
    assert all(e["code"] == "notAttempted" for e in operation["errors"][200:])
    assert simulator.members(audience_of(simulator, rollout)) == []
    return rollout, devices


@pytest.mark.usefixtures("one_chunk_at_a_time")
async def test_on_its_last_attempt_a_503_storm_fails_the_devices_not_sent(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    _, devices = await _last_attempt_in_a_storm(client, app, simulator, "updateAudience")

    max_attempts = app.state.services.settings.graph_max_attempts
    assert simulator.count("POST", "updateAudience") == max_attempts
    assert sent_ids(simulator.find("POST", "enrollAssets"), "assets") == devices[:200]


@pytest.mark.usefixtures("one_chunk_at_a_time")
async def test_on_its_last_attempt_an_enrollment_storm_sends_no_audience_change(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout, devices = await _last_attempt_in_a_storm(client, app, simulator, "enrollAssets")

    assert simulator.count("POST", "updateAudience") == 0
    trail = await audit_trail(app, rollout["id"])
    changes = [e for e in trail if e.action == "graph.updateAudience"]
    assert [(e.outcome, e.detail.get("notSent")) for e in changes] == [
        ("requested", None),
        ("failed", "not sent: an earlier call failed with ServiceUnavailable"),
    ]
    assert changes[0].device_ids == changes[1].device_ids == devices[:200]


async def test_with_chunks_in_parallel_a_503_storm_stops_those_not_started(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    executor = app.state.services.jobs.executor
    executor.concurrency = 2
    rollout = await create_rollout(client)
    devices = device_ids(1000)  # 5 chunks; 2 in flight when the storm is met
    operation_id = await _queued_change(app, rollout, devices)
    simulator.faults.inject(503, count=10_000, retry_after=0, path_contains="updateAudience")

    await executor.apply(operation_id, final=True)

    simulator.faults.clear()
    operation = (await client.get(f"/v1/operations/{operation_id}")).json()
    assert (operation["status"], operation["failed"]) == ("failed", 1000)
    codes = Counter(e["code"] for e in operation["errors"])
    assert codes == {"ServiceUnavailable": 400, "notAttempted": 600}
    attempted = {
        d["id"] for c in simulator.find("POST", "updateAudience") for d in c.body["addMembers"]
    }
    assert len(attempted) == 400


async def test_an_archived_rollout_refuses_audience_changes_without_calling_graph(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    await client.post(f"/v1/rollouts/{rollout['id']}/archive")
    writes = len(simulator.writes())

    refused = await change(client, rollout["id"], {"addDevices": device_ids(2)})

    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "urn:problem:rollout-archived"
    assert len(simulator.writes()) == writes
    async with app.state.services.sessionmaker() as session:
        assert (await session.execute(select(Operation))).first() is None


async def test_an_operation_cut_short_by_a_crash_finishes_without_resending(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    devices = device_ids(300)
    services = app.state.services
    # The state a crash leaves: the operation running, its first chunk sent and recorded, the
    # rest still pending.
    async with services.sessionmaker() as session:
        uow = UnitOfWork(session)
        row = await session.get(Rollout, uuid.UUID(rollout["id"]))
        assert row is not None
        context = ChangeContext(actor="ops", ticket="CHG9", reason=None, request_id="before-crash")
        operation = await accept_audience_change(uow, context, row, {"addMember": devices})
        operation.status = "running"
        await session.flush()
        await session.execute(
            update(OperationItem)
            .where(OperationItem.operation_id == operation.id, OperationItem.seq < MAX_IDS)
            .values(status="succeeded", graph_request_id="sent-before-crash")
        )
        session.add_all(
            AudienceDevice(rollout_id=row.id, membership="member", device_id=d)
            for d in devices[:MAX_IDS]
        )
        await queue_operation(services.queue, uow, operation)  # the job the crash interrupted
        await uow.commit()
        operation_id = str(operation.id)
    simulator.clear_calls()

    await services.operations.idle()

    assert sent_ids(simulator.find("POST", "enrollAssets"), "assets") == devices[MAX_IDS:]
    assert sent_ids(simulator.find("POST", "updateAudience"), "addMembers") == devices[MAX_IDS:]
    assert {c.client_request_id for c in simulator.writes()} == {"before-crash"}
    polled = (await client.get(f"/v1/operations/{operation_id}")).json()
    assert (polled["status"], polled["succeeded"], polled["failed"]) == ("succeeded", 300, 0)
    items = await items_of(app, operation_id)
    assert {i.graph_request_id for i in items[:MAX_IDS]} == {"sent-before-crash"}
    assert {i.status for i in items} == {"succeeded"}
    got = (await client.get(f"/v1/rollouts/{rollout['id']}")).json()
    assert got["audience"]["members"] == 300

    # Running it again finds nothing left to do and sends nothing.
    simulator.clear_calls()
    async with services.sessionmaker() as session:
        uow = UnitOfWork(session)
        again = await session.get(Operation, uuid.UUID(operation_id))
        assert again is not None
        await queue_operation(services.queue, uow, again)
        await uow.commit()
    await services.operations.idle()
    assert simulator.writes() == []


async def test_an_operation_whose_rollout_was_archived_meanwhile_sends_nothing(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    # An operation accepted just before the rollout was archived, not yet run.
    async with app.state.services.sessionmaker() as session:
        uow = UnitOfWork(session)
        row = await session.get(Rollout, uuid.UUID(rollout["id"]))
        assert row is not None
        context = ChangeContext(actor="someone", ticket="CHG1", reason=None, request_id="r-1")
        operation = await accept_audience_change(uow, context, row, {"addMember": device_ids(3)})
        await uow.commit()
    archived = await client.post(f"/v1/rollouts/{rollout['id']}/archive", json={})
    assert archived.json()["state"]["effective"] == "archived"
    simulator.clear_calls()

    async with app.state.services.sessionmaker() as session:
        uow = UnitOfWork(session)
        await queue_operation(app.state.services.queue, uow, operation)
        await uow.commit()
    await app.state.services.operations.idle()

    assert simulator.writes() == []
    items = await items_of(app, str(operation.id))
    assert {(i.status, i.error_code) for i in items} == {("failed", "notAttempted")}
    assert "archived" in (items[0].error_message or "")
    got = (await client.get(f"/v1/operations/{operation.id}")).json()
    assert (got["status"], got["failed"]) == ("failed", 3)


async def test_a_burst_of_changes_to_one_rollout_applies_each_device_once(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    rollout = await create_rollout(client)
    batches = [device_ids(3, str(n)) for n in range(1, 9)]

    answers = [
        await change(client, rollout["id"], {"addDevices": batch}, wait=None) for batch in batches
    ]
    await app.state.services.operations.idle()

    assert {a.status_code for a in answers} == {202}
    for answer in answers:
        operation = (await client.get(answer.headers["location"])).json()
        assert (operation["status"], operation["succeeded"]) == ("succeeded", 3)
    every = [d for batch in batches for d in batch]
    assert sorted(simulator.members(audience_of(simulator, rollout))) == sorted(every)
    assert Counter(sent_ids(simulator.find("POST", "updateAudience"), "addMembers")) == Counter(
        every
    )
