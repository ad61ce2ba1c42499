"""A command is recorded as held by the request that asked for it, which runs it right after
its commit. Should that request die in between, nobody else runs the command until the hold
runs out; then its safety-net job does, once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text, update

from app.change_context import ChangeContext
from app.commands import kinds
from app.commands.models import Command
from app.commands.service import enqueue
from app.simulator.state import SimulatorState
from app.unit_of_work import UnitOfWork
from tests.api.helpers import audit_trail, rollout_body


async def test_a_command_whose_requester_died_after_its_commit_runs_once_its_hold_is_over(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState
) -> None:
    created = (await client.post("/v1/rollouts", json=rollout_body())).json()
    services = app.state.services
    simulator.clear_calls()
    # A pause request that commits its command and dies before running it.
    async with services.sessionmaker() as session:
        uow = UnitOfWork(session)
        context = ChangeContext("alice", "CHG7", "dies midway", "req-died")
        command = await enqueue(
            uow,
            services.queue,
            context,
            rollout_id=uuid.UUID(created["id"]),
            kind=kinds.SET_STATE,
            action="rollout.pause",
            payload={"requested": "paused"},
            detail={"requestedState": "paused"},
            lease_seconds=services.commands.lease_seconds,
        )
        await uow.commit()

    # Held: another executor (its job, a second replica) does not take it.
    assert await services.commands.execute(command.id) is None
    assert simulator.writes() == []
    async with services.sessionmaker() as session:
        row = await session.get(Command, command.id)
        assert row is not None
        assert (row.status, row.attempts) == ("running", 1)
        # The answered command stands for its row: every column it holds is the row's.
        held = [c.key for c in Command.__table__.columns if c.key in vars(command)]
        assert {"lease_until", "created_at"}.isdisjoint(held)  # the database's clock sets them
        assert {key: getattr(command, key) for key in held} == {
            key: getattr(row, key) for key in held
        }
        assert (row.kind, row.payload, row.actor, row.request_id) == (
            kinds.SET_STATE,
            {"requested": "paused"},
            "alice",
            "req-died",
        )
        assert (row.anchor, row.result, row.finished_at) == (None, None, None)
        job_due_in = await session.scalar(
            text(
                "SELECT extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs"
                " WHERE args->>'command_id' = :id"
            ),
            {"id": str(command.id)},
        )
        hold_left = await session.scalar(
            select(func.extract("epoch", Command.lease_until - func.now())).where(
                Command.id == command.id
            )
        )
    assert job_due_in is not None and hold_left is not None
    assert 0 < hold_left < job_due_in  # the job comes after the hold is over

    async with services.sessionmaker() as session:  # the hold runs out
        await session.execute(
            update(Command)
            .where(Command.id == command.id)
            .values(lease_until=func.now() - timedelta(seconds=1))
        )
        await session.commit()
    finished = await services.commands.execute(command.id)

    assert finished is not None and finished.status == "succeeded"
    assert simulator.deployments[created["graphDeploymentId"]].requested == "paused"
    assert len(simulator.writes()) == 1
    assert await services.commands.execute(command.id) is None  # finished: never run twice
    trail = [(e.action, e.outcome) for e in await audit_trail(app, created["id"])]
    assert trail[-2:] == [("rollout.pause", "requested"), ("rollout.pause", "succeeded")]
