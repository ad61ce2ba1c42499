"""APPROVALS: a change it names waits for a second person; approved, it is carried out exactly as
its requester's request would have been, once; rejected or expired, never. The audit log names
both people."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.auth.api_keys import key_digest
from app.jobs.wiring import job_services
from app.main import create_app
from app.review.changes import expire_due
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.api.helpers import audit_trail, device_ids, rollout_body
from tests.conftest import NOW, make_settings

KEYS = {
    "alice": ("operator", "key-of-alice-the-operator-0123456789"),
    "olga": ("operator", "key-of-olga-the-operator-0123456789"),
    "bob": ("approver", "key-of-bob-the-approver-0123456789ab"),
    "ada": ("admin", "key-of-ada-the-admin-0123456789abcdef"),
}


def as_(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name][1]}


@pytest.fixture
def settings(clean_database: str) -> Settings:
    return make_settings(
        clean_database,
        api_keys=",".join(f"{n}:{role}:{key_digest(key)}" for n, (role, key) in KEYS.items()),
        approvals="create,pause,audience>100",
        approval_ttl="P1D",
    )


async def counts(app: FastAPI) -> dict[str, int]:
    async with app.state.services.sessionmaker() as session:
        return {
            table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ("rollouts", "commands", "operations", "changes", "audit_events")
        }


async def events(app: FastAPI, action: str) -> list[AuditEvent]:
    async with app.state.services.sessionmaker() as session:
        rows = await session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(rows.scalars())


async def propose_create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    held = await client.post("/v1/rollouts", json=rollout_body(**body), headers=as_("alice"))
    assert held.status_code == 202, held.text
    change: dict[str, Any] = held.json()
    assert held.headers["Location"] == f"/v1/changes/{change['id']}"
    return change


async def test_a_create_waits_for_approval_and_is_carried_out_by_an_approver(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    members = device_ids(30)
    change = await propose_create(client, devices=members)
    assert change["status"] == "pendingApproval" and change["action"] == "create"
    assert change["requestedBy"] == "alice" and change["ticket"] == "CHG0012345"
    assert change["request"]["body"]["devices"] == members
    assert [step["path"].rsplit("/", 1)[-1] for step in change["plan"]][:2] == [
        "deploymentAudiences",
        "deployments",
    ]
    assert change["expiresAt"] == "2026-11-29T12:00:00Z"  # NOW + APPROVAL_TTL
    # Held: nothing reached Graph, only the change and its event were written.
    assert simulator.writes() == []
    assert await counts(app) == {
        "rollouts": 0,
        "commands": 0,
        "operations": 0,
        "changes": 1,
        "audit_events": 1,
    }
    url = f"/v1/changes/{change['id']}"

    for operator in ("alice", "olga"):  # the requester herself, and another operator
        refused = await client.post(f"{url}/approve", headers=as_(operator))
        assert refused.status_code == 403
        assert refused.json()["requiredRole"] == "approver"
    assert simulator.writes() == [] and (await counts(app))["rollouts"] == 0

    approved = await client.post(f"{url}/approve", headers=as_("bob"))
    assert approved.status_code == 201, approved.text
    rollout = approved.json()
    assert rollout["createdBy"] == "alice" and rollout["ticket"] == "CHG0012345"
    assert rollout["audienceOperation"]["total"] == 30
    await app.state.services.operations.idle()
    audience = simulator.deployments[rollout["graphDeploymentId"]].audience_id
    assert sorted(simulator.members(audience)) == sorted(members)

    shown = (await client.get(url, headers=as_("olga"))).json()
    assert shown["status"] == "applied" and shown["decidedBy"] == "bob"
    assert shown["result"]["status"] == 201 and shown["result"]["body"]["id"] == rollout["id"]
    assert shown["rolloutId"] == rollout["id"]

    # Both people are in the audit log: who proposed, who approved, and on the change itself.
    (proposed,) = await events(app, "change.proposed")
    (approval,) = await events(app, "change.approved")
    assert proposed.actor == "alice" and approval.actor == "bob"
    assert approval.detail["requestedBy"] == "alice"
    (intent,) = [e for e in await events(app, "rollout.create") if e.outcome == "requested"]
    assert intent.actor == "alice"
    assert intent.detail["approval"] == {"changeId": change["id"], "approvedBy": "bob"}

    # Every event the change led to — the create, the audience operation and each of its Graph
    # calls, recorded later by a worker — names the approver beside the requester.
    trail = [e for e in await audit_trail(app, rollout["id"]) if e.actor == "alice"]
    assert {e.action for e in trail} >= {
        "rollout.create",
        "audience.update",
        "devices.enroll",
        "graph.updateAudience",
    }
    assert {e.outcome for e in trail} == {"requested", "succeeded"}
    assert all(e.detail.get("approval", {}).get("approvedBy") == "bob" for e in trail)

    # Approving again answers the same and does nothing more.
    writes = len(simulator.writes())
    again = await client.post(f"{url}/approve", headers=as_("ada"))
    assert again.status_code == 201 and again.json()["id"] == rollout["id"]
    assert len(simulator.writes()) == writes
    assert (await counts(app))["rollouts"] == 1
    assert len(await events(app, "change.approved")) == 1


async def test_an_approver_cannot_approve_their_own_change(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    held = await client.post("/v1/rollouts", json=rollout_body(), headers=as_("bob"))
    assert held.status_code == 202, held.text
    url = f"/v1/changes/{held.json()['id']}"
    own = await client.post(f"{url}/approve", headers=as_("bob"))
    assert own.status_code == 403
    assert own.json()["type"] == "urn:problem:self-approval"
    assert simulator.writes() == [] and (await counts(app))["rollouts"] == 0
    assert (await client.get(url, headers=as_("bob"))).json()["status"] == "pendingApproval"
    by_admin = await client.post(f"{url}/approve", headers=as_("ada"))
    assert by_admin.status_code == 201, by_admin.text
    assert by_admin.json()["createdBy"] == "bob"


async def test_only_large_audience_changes_wait(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    async with app.state.services.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    change = await propose_create(client)
    created = await client.post(f"/v1/changes/{change['id']}/approve", headers=as_("bob"))
    assert created.status_code == 201
    url = f"/v1/rollouts/{created.json()['id']}/audience"

    small = await client.post(url, json={"addDevices": device_ids(100)}, headers=as_("alice"))
    assert small.status_code == 202 and "kind" in small.json()  # an operation: carried out
    large_devices = device_ids(10_000)
    body = {"addDevices": large_devices, "ticket": "CHG7", "reason": "floor 3"}
    await app.state.services.operations.idle()
    simulator.clear_calls()
    held = await client.post(url, json=body, headers=as_("alice"))
    assert held.status_code == 202, held.text
    change = held.json()
    assert change["action"] == "audience" and change["devices"] == 10_000
    assert [(s["calls"], s["devices"]) for s in change["plan"]] == [(50, 10_000), (50, 10_000)]
    assert simulator.writes() == []

    approved = await client.post(f"/v1/changes/{change['id']}/approve", headers=as_("ada"))
    assert approved.status_code == 202, approved.text
    operation = approved.json()
    assert operation["kind"] == "audience.update" and operation["total"] == 10_000
    assert approved.headers["Location"] == f"/v1/operations/{operation['id']}"
    await app.state.services.operations.idle()
    assert len(simulator.writes()) == 100  # as planned: 50 enrollAssets, 50 updateAudience
    finished = (await client.get(f"/v1/operations/{operation['id']}", headers=as_("bob"))).json()
    assert finished["status"] == "succeeded" and finished["succeeded"] == 10_000


async def test_dry_runs_of_approving_and_rejecting_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    change = await propose_create(client)
    url = f"/v1/changes/{change['id']}"
    before = await counts(app)
    own = await client.post(f"{url}/approve?dryRun=true", headers=as_("alice"))
    assert own.status_code == 403
    preview = await client.post(f"{url}/approve?dryRun=true", headers=as_("bob"))
    assert preview.status_code == 200, preview.text
    assert preview.json()["plan"] == change["plan"]
    created = [e for e in preview.json()["auditEvents"] if e["action"] == "rollout.create"]
    assert [e["outcome"] for e in created] == ["requested", "succeeded"]
    for event in created:
        assert event["actor"] == "alice"
        assert event["detail"]["approval"] == {"changeId": change["id"], "approvedBy": "bob"}
    rejecting = await client.post(
        f"{url}/reject?dryRun=true", json={"reason": "freeze"}, headers=as_("bob")
    )
    assert rejecting.status_code == 200, rejecting.text
    assert [e["action"] for e in rejecting.json()["auditEvents"]] == ["change.rejected"]
    assert simulator.writes() == [] and await counts(app) == before
    shown = (await client.get(url, headers=as_("bob"))).json()
    assert shown["status"] == "pendingApproval" and shown["decidedBy"] is None


async def test_a_rejected_change_is_never_carried_out(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    change = await propose_create(client)
    url = f"/v1/changes/{change['id']}"
    by_other_operator = await client.post(
        f"{url}/reject", json={"reason": "no"}, headers=as_("olga")
    )
    assert by_other_operator.status_code == 403
    rejected = await client.post(
        f"{url}/reject", json={"reason": "Change freeze"}, headers=as_("bob")
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decisionReason"] == "Change freeze"
    late = await client.post(f"{url}/approve", headers=as_("ada"))
    assert late.status_code == 409 and late.json()["type"] == "urn:problem:change-decided"
    assert simulator.writes() == [] and (await counts(app))["rollouts"] == 0
    (event,) = await events(app, "change.rejected")
    assert event.actor == "bob" and event.detail["requestedBy"] == "alice"

    withdrawn = await propose_create(client)
    mine = await client.post(
        f"/v1/changes/{withdrawn['id']}/reject", json={"reason": "typo"}, headers=as_("alice")
    )
    assert mine.status_code == 200 and mine.json()["decidedBy"] == "alice"
    listed = await client.get("/v1/changes?status=rejected", headers=as_("olga"))
    assert {c["id"] for c in listed.json()["items"]} == {change["id"], withdrawn["id"]}


async def test_a_change_expires_after_the_ttl(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    first = await propose_create(client)
    second = await propose_create(client)
    sessionmaker = app.state.services.sessionmaker
    assert await expire_due(sessionmaker, NOW) == 0  # not yet
    later = NOW + timedelta(days=1, seconds=1)
    assert await expire_due(sessionmaker, later) == 2
    for change in (first, second):
        late = await client.post(f"/v1/changes/{change['id']}/approve", headers=as_("bob"))
        assert late.status_code == 409 and late.json()["type"] == "urn:problem:change-expired"
    assert simulator.writes() == [] and (await counts(app))["rollouts"] == 0
    expired = await events(app, "change.expired")
    assert [e.detail["requestedBy"] for e in expired] == ["alice", "alice"]


async def test_an_approved_change_is_checked_again_against_the_current_state(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    created = await client.post(
        f"/v1/changes/{(await propose_create(client))['id']}/approve", headers=as_("bob")
    )
    rollout = created.json()
    pause = await client.post(
        f"/v1/rollouts/{rollout['id']}/pause", json={"ticket": "CHG9"}, headers=as_("alice")
    )
    assert pause.status_code == 202 and pause.json()["action"] == "pause"
    archived = await client.post(f"/v1/rollouts/{rollout['id']}/archive", headers=as_("ada"))
    assert archived.status_code == 200, archived.text
    simulator.clear_calls()

    stale = await client.post(f"/v1/changes/{pause.json()['id']}/approve", headers=as_("bob"))
    assert stale.status_code == 409, stale.text
    problem = stale.json()
    assert problem["type"] == "urn:problem:change-no-longer-applies"
    assert problem["cause"]["type"] == "urn:problem:rollout-archived"
    assert simulator.writes() == []
    shown = (await client.get(f"/v1/changes/{pause.json()['id']}", headers=as_("bob"))).json()
    assert shown["status"] == "failed" and shown["result"]["status"] == 409


async def test_a_dry_run_says_whether_approval_would_be_needed(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    dry = await client.post("/v1/rollouts?dryRun=true", json=rollout_body(), headers=as_("alice"))
    assert dry.status_code == 200, dry.text
    assert dry.json()["approvalRequired"] is True
    assert (await counts(app))["changes"] == 0


async def test_unknown_changes_are_404(app: FastAPI, client: httpx.AsyncClient) -> None:
    for change_id in ("nope", str(uuid.uuid4())):
        missing = await client.get(f"/v1/changes/{change_id}", headers=as_("bob"))
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:problem:change-not-found"


async def test_the_workers_sweep_expires_changes_by_the_services_clock(
    settings: Settings, simulator: SimulatorState
) -> None:
    now = [NOW]
    # No embedded worker: its own sweep, at the turn of a real minute, would expire the change
    # first (or hold it locked) and race the calls below. The sweep's services are built here
    # as the worker builds them, from the app's resources and its clock.
    alone = settings.model_copy(update={"run_worker": False})
    application = create_app(alone, simulator_state=simulator, clock=lambda: now[0])
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            change = await propose_create(http)
            services = application.state.services
            assert services.jobs is None
            jobs = job_services(
                alone, services.sessionmaker, services.graph, services.queue, services.clock
            )
            assert await jobs.expire_changes() == 0
            now[0] = NOW + timedelta(days=1)  # exactly APPROVAL_TTL later: due
            assert await jobs.expire_changes() == 1
            shown = await http.get(f"/v1/changes/{change['id']}", headers=as_("bob"))
            assert shown.json()["status"] == "expired"


async def test_a_retried_proposal_is_one_change(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = {**as_("alice"), "Idempotency-Key": "CHG0012345-create"}
    first = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    retry = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert first.status_code == retry.status_code == 202
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert (await counts(app))["changes"] == 1
