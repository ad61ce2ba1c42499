"""A rollout's status: an enum whose moves are allowed in one place (status.TRANSITIONS), kept
as the same strings, and backed by CHECK constraints that refuse any other value; Graph's state
is an ObservedState kept in `graph_state` in the shape it always had."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from itertools import product

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.graph.wire import Deployment
from app.rollouts.models import Rollout
from app.rollouts.observed import ObservedState
from app.rollouts.status import TRANSITIONS, ForbiddenTransition, RolloutStatus
from tests.api.helpers import device_ids, rollout_body, rollout_row

S = RolloutStatus
ALLOWED = {(S.CREATING, S.ACTIVE), (S.CREATING, S.FAILED), (S.ACTIVE, S.DELETED)}
MOVES = [(a, b) for a, b in product(S, S) if a != b]


def new_rollout() -> Rollout:
    return Rollout(
        status=S.CREATING,
        name="n",
        update_kind="feature",
        catalog_entry_id="x",
        settings={},
        created_by="someone",
    )


def rollout_in(status: RolloutStatus) -> Rollout:
    """A rollout brought to `status` by allowed moves."""
    rollout = new_rollout()
    path = {S.ACTIVE: [S.ACTIVE], S.FAILED: [S.FAILED], S.DELETED: [S.ACTIVE, S.DELETED]}
    for step in path.get(status, []):
        rollout.move_to(step)
    return rollout


def test_the_transition_table_is_the_lifecycle() -> None:
    assert {(a, b) for a, b in MOVES if a.can_become(b)} == ALLOWED
    assert {s for s in S if s.is_terminal} == {S.FAILED, S.DELETED}
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_allowed_moves_change_the_status(current: S, wanted: S) -> None:
    rollout = rollout_in(current)
    rollout.move_to(wanted)
    assert rollout.status is wanted


@pytest.mark.parametrize(("current", "wanted"), [m for m in MOVES if m not in ALLOWED])
def test_forbidden_moves_raise_and_change_nothing(current: S, wanted: S) -> None:
    rollout = rollout_in(current)
    with pytest.raises(ForbiddenTransition, match=f"{current} → {wanted}"):
        rollout.move_to(wanted)
    with pytest.raises(ForbiddenTransition):
        rollout.status = wanted.value  # a plain assignment is checked the same way
    assert rollout.status is current


@pytest.mark.parametrize("status", list(S))
def test_staying_in_a_status_is_no_move(status: S) -> None:
    rollout = rollout_in(status)
    rollout.move_to(status)  # e.g. a creation whose outcome is unknown stays creating
    assert rollout.status is status


@pytest.mark.parametrize("status", [S.ACTIVE, S.FAILED, S.DELETED])
def test_a_new_rollout_starts_creating(status: S) -> None:
    with pytest.raises(ForbiddenTransition, match="new"):
        Rollout(status=status, name="n")


def test_an_unknown_status_is_no_status() -> None:
    with pytest.raises(ValueError, match="paused"):
        new_rollout().status = "paused"


async def test_a_stored_rollout_keeps_to_the_lifecycle(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = (await client.post("/v1/rollouts", json=rollout_body())).json()
    async with app.state.services.engine.connect() as connection:
        stored = await connection.scalar(
            text("SELECT status FROM rollouts WHERE id = :id"), {"id": created["id"]}
        )
    assert stored == "active"  # the same strings as before the enum

    row = await rollout_row(app, created["id"])
    assert row.status is S.ACTIVE
    with pytest.raises(ForbiddenTransition):
        row.move_to(S.CREATING)


CHECKS = [
    ("rollouts", "status", "paused"),
    ("operations", "status", "done"),
    ("operation_items", "status", "applied"),
    ("operation_items", "change", "addDevice"),
    ("managed_devices", "status", "held"),
]


@pytest.mark.parametrize(("table", "column", "bad"), CHECKS)
async def test_the_database_refuses_a_value_outside_the_lifecycle(
    client: httpx.AsyncClient, app: FastAPI, table: str, column: str, bad: str
) -> None:
    rollout = (await client.post("/v1/rollouts", json=rollout_body())).json()
    added = await client.post(
        f"/v1/rollouts/{rollout['id']}/audience",
        json={"addDevices": device_ids(1)},
        headers={"Prefer": "wait=10"},
    )
    assert added.json()["status"] == "succeeded", added.text
    async with app.state.services.engine.connect() as connection:
        assert await connection.scalar(text(f"SELECT count(*) FROM {table}")) == 1
        with pytest.raises(IntegrityError) as refused:
            await connection.execute(text(f"UPDATE {table} SET {column} = :bad"), {"bad": bad})
    assert refused.value.orig is not None
    assert getattr(refused.value.orig.diag, "constraint_name", None) == f"ck_{table}_{column}"


def test_observed_state_keeps_the_stored_shape() -> None:
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    deployment = Deployment.model_validate(
        {
            "id": str(uuid.uuid4()),
            "state": {
                "effectiveValue": "paused",
                "requestedValue": "none",
                "reasons": [{"value": "pausedByMonitoring"}],
            },
        }
    )
    observed = ObservedState.from_deployment(deployment, at)

    assert observed.to_record() == {
        "effective": "paused",
        "requested": "none",
        "reasons": ["pausedByMonitoring"],
        "observedAt": "2026-11-28T12:00:00+00:00",
    }
    assert ObservedState.from_record(observed.to_record()) == observed
    assert not observed.is_archived
    assert observed.differs_from(ObservedState("paused", "none", (), at))
    assert not observed.differs_from(ObservedState("paused", "paused", observed.reasons, None))
    unknown = ObservedState.from_deployment(Deployment.model_validate({"id": "d"}), at)
    assert (unknown.effective, unknown.requested, unknown.reasons) == ("unknown", None, ())
