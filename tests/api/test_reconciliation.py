"""Creating a deployment is not idempotent at Graph: a crash or timeout between Graph's 201
and our commit must neither leave an unknown deployment behind nor make a second one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, func, select, text, update

from app.commands.models import Command
from app.graph.errors import GraphError
from app.operations.models import Operation
from app.rollouts.models import Rollout
from app.rollouts.reconcile import Reconciling, reconcile_creating_rollouts
from app.simulator.state import SimulatorState
from tests.api.helpers import audit_trail, device_ids, rollout_body, rollout_row

DEPLOYMENTS = "/admin/windows/updates/deployments"


def _drop_trigger(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse_deployment_id ON rollouts"))
    engine.dispose()


@pytest.fixture
def commit_fails_after_graph(clean_database: str) -> Iterator[None]:
    """A real database failure at the worst moment: recording a created deployment."""
    engine = create_engine(clean_database)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION refuse_deployment_id() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'simulated crash before the outcome was recorded'; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER refuse_deployment_id BEFORE UPDATE ON rollouts FOR EACH ROW"
                " WHEN (NEW.graph_deployment_id IS NOT NULL)"
                " EXECUTE FUNCTION refuse_deployment_id()"
            )
        )
    yield
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER IF EXISTS refuse_deployment_id ON rollouts"))
        connection.execute(text("DROP FUNCTION IF EXISTS refuse_deployment_id()"))
    engine.dispose()


async def test_a_failed_commit_after_graphs_201_is_adopted_not_repeated(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    commit_fails_after_graph: None,
    clean_database: str,
) -> None:
    devices = device_ids(3)
    response = await client.post("/v1/rollouts", json=rollout_body(devices=devices))

    assert response.status_code == 503
    problem = response.json()
    assert problem["type"] == "urn:problem:outcome-not-recorded"
    rollout_id = problem["rolloutId"]
    assert problem["graphRequestId"]
    assert len(simulator.deployments) == 1
    deployment_id = next(iter(simulator.deployments))
    rollout = await rollout_row(app, rollout_id)
    assert (rollout.status, rollout.graph_deployment_id) == ("creating", None)
    assert rollout.graph_audience_id == simulator.deployments[deployment_id].audience_id
    trail = [(e.action, e.outcome) for e in await audit_trail(app, rollout_id)]
    assert trail == [("rollout.create", "requested"), ("audience.update", "requested")]

    # In a thread: DROP TRIGGER waits for the transactions on rollouts to end, and one of them
    # may be the in-process worker's, which needs this event loop to finish.
    await asyncio.to_thread(_drop_trigger, clean_database)
    # Reconciliation leaves it to its command, which runs again once its lease has run out.
    assert await reconcile_creating_rollouts(reconciling(app), min_age_seconds=0) == []
    await _run_again_after_its_lease(app, rollout_id)
    await app.state.services.operations.idle()

    rollout = await rollout_row(app, rollout_id)
    assert (rollout.status, rollout.graph_deployment_id) == ("active", deployment_id)
    assert _creates(simulator) == 1
    assert len(simulator.deployments) == 1
    events = await audit_trail(app, rollout_id)
    adoption = [e for e in events if e.action == "rollout.create" and e.outcome == "succeeded"]
    assert len(adoption) == 1
    assert adoption[0].intent_id == events[0].id  # closes the original intent
    assert adoption[0].detail["graphDeploymentId"] == deployment_id
    # The devices given at creation were not lost: applied once the deployment was adopted.
    audience_id = simulator.deployments[deployment_id].audience_id
    assert sorted(simulator.members(audience_id)) == sorted(devices)
    got = (await client.get(f"/v1/rollouts/{rollout_id}")).json()
    assert got["state"]["effective"] == "offering"
    assert got["audience"] == {"members": 3, "exclusions": 0}


async def test_a_lost_response_on_create_is_adopted_in_the_same_request(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    simulator.faults.drop_after_processing(status=504, method="POST", path_contains=DEPLOYMENTS)

    response = await client.post("/v1/rollouts", json=rollout_body())

    assert response.status_code == 201, response.text
    assert _creates(simulator) == 1
    assert len(simulator.deployments) == 1
    assert response.json()["graphDeploymentId"] == next(iter(simulator.deployments))
    assert simulator.count("GET", DEPLOYMENTS) >= 1  # it looked before it would have re-sent
    events = await audit_trail(app, response.json()["id"])
    assert [(e.action, e.outcome) for e in events] == [
        ("rollout.create", "requested"),
        ("rollout.create", "succeeded"),
    ]
    assert events[1].intent_id == events[0].id  # the outcome closes the request's intent


async def test_when_graph_cannot_even_be_asked_the_rollout_waits_for_reconciliation(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    simulator.faults.drop_after_processing(status=504, method="POST", path_contains=DEPLOYMENTS)
    simulator.faults.inject(503, count=50, method="GET", path_contains=DEPLOYMENTS, retry_after=0)

    response = await client.post("/v1/rollouts", json=rollout_body())

    assert response.status_code in (503, 504)
    problem = response.json()
    assert "may have applied" in problem["detail"]
    rollouts = await _all_rollouts(app)
    assert [r.status for r in rollouts] == ["creating"]
    assert len(simulator.deployments) == 1
    trail = [(e.action, e.outcome) for e in await audit_trail(app, str(rollouts[0].id))]
    assert trail == [("rollout.create", "requested")]  # open until the command runs again

    simulator.faults.clear()
    await _run_again_after_its_lease(app, str(rollouts[0].id))
    [rollout] = await _all_rollouts(app)
    assert rollout.status == "active"
    assert _creates(simulator) == 1


async def test_reconciliation_fails_a_rollout_graph_never_created(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    simulator.faults.inject(400, method="POST", path_contains=DEPLOYMENTS, code="BadRequest")
    # A rollout left `creating` by a crash right after its audience was made.
    audience = await app.state.services.graph.create_audience()
    await _left_creating(app, audience_id=audience.value.id)

    assert await reconcile_creating_rollouts(reconciling(app), min_age_seconds=0) == []

    [rollout] = await _all_rollouts(app)
    assert rollout.status == "failed"
    [event] = await audit_trail(app, str(rollout.id))
    assert (event.action, event.outcome, event.actor) == ("rollout.create", "failed", "reconciler")
    assert audience.value.id in event.detail["why"]
    assert len(simulator.deployments) == 0


async def test_reconciliation_leaves_young_rollouts_alone(
    app: FastAPI, simulator: SimulatorState
) -> None:
    await _left_creating(app, audience_id=None)
    assert await reconcile_creating_rollouts(reconciling(app), min_age_seconds=3600) == []
    assert [r.status for r in await _all_rollouts(app)] == ["creating"]
    assert simulator.calls == []


async def _left_creating(app: FastAPI, *, audience_id: str | None) -> None:
    """A rollout row as a crash during creation leaves it: `creating`, no deployment id."""
    async with app.state.services.sessionmaker() as session:
        session.add(
            Rollout(
                status="creating",
                graph_audience_id=audience_id,
                name="left behind",
                update_kind="feature",
                catalog_entry_id="x",
                settings={},
                created_by="someone",
            )
        )
        await session.commit()


def _creates(simulator: SimulatorState) -> int:
    """How many create-deployment POSTs Graph received (not audience actions under them)."""
    return simulator.count("POST", path_endswith=DEPLOYMENTS)


async def _all_rollouts(app: FastAPI) -> list[Rollout]:
    async with app.state.services.sessionmaker() as session:
        return list((await session.execute(select(Rollout))).scalars())


def reconciling(app: FastAPI) -> Reconciling:
    """What the periodic sweep gives reconciliation, from the app's own resources."""
    services = app.state.services
    return Reconciling(
        sessionmaker=services.sessionmaker,
        graph=services.graph,
        clock=services.clock,
        queue=services.queue,
    )


async def _run_again_after_its_lease(app: FastAPI, rollout_id: str) -> None:
    """What the command's safety-net job does once the lease of its dead holder ran out."""
    async with app.state.services.sessionmaker() as session:
        command = (
            await session.execute(
                select(Command).where(Command.rollout_id == uuid.UUID(rollout_id))
            )
        ).scalar_one()
        assert command.status == "running"
        await session.execute(
            update(Command)
            .where(Command.id == command.id)
            .values(lease_until=func.now() - timedelta(seconds=1))
        )
        await session.commit()
    assert await app.state.services.commands.execute(command.id) is not None


async def test_a_repeat_that_cannot_look_for_its_deployment_stays_unsettled(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    simulator.faults.drop_after_processing(status=504, method="POST", path_contains=DEPLOYMENTS)
    simulator.faults.inject(503, count=50, method="GET", path_contains=DEPLOYMENTS, retry_after=0)
    response = await client.post("/v1/rollouts", json=rollout_body(devices=device_ids(2)))
    assert response.status_code in (503, 504)
    [rollout] = await _all_rollouts(app)

    # Graph still cannot be asked: the repeat must not take "unknown" for "refused".
    simulator.faults.inject(503, count=50, method="GET", path_contains=DEPLOYMENTS, retry_after=0)
    with pytest.raises(GraphError) as unclear:
        await _run_again_after_its_lease(app, str(rollout.id))
    assert unclear.value.outcome_unknown

    [rollout] = await _all_rollouts(app)
    assert rollout.status == "creating"
    async with app.state.services.sessionmaker() as session:
        command = (await session.execute(select(Command))).scalar_one()
        operation = (await session.execute(select(Operation))).scalar_one()
    assert command.status == "running"  # held until its lease runs out, then tried again
    assert operation.status == "queued"  # its devices are not given up
