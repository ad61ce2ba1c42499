"""A rollout's state: read from Graph, paused, resumed, archived, deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.commands import kinds
from app.commands.run import run_command
from app.db_reads import reading_only
from app.graph.errors import GraphNotFound
from app.graph.specs import RequestedState
from app.graph.wire import Deployment
from app.rollouts.errors import (
    RolloutArchived,
    RolloutDeleted,
    RolloutNotActive,
)
from app.rollouts.models import Rollout
from app.rollouts.observed import ObservedState
from app.rollouts.repository import (
    RolloutNotFound,
    audience_counts,
    get_or_404,
    lock_if_unchanged,
    reload_counted,
)
from app.rollouts.service import (
    RolloutServices,
    check_ticket,
)
from app.rollouts.status import RolloutStatus

STATE_ACTIONS: dict[str, RequestedState] = {
    "pause": "paused",
    "resume": "none",
    "archive": "archived",
}


@dataclass(frozen=True)
class Observation:
    """What one read of Graph showed of a rollout's deployment, and when."""

    deployment: Deployment | None  # None: Graph no longer has it
    at: datetime
    request_ids: tuple[str, ...]


def has_deployment(rollout: Rollout) -> bool:
    """Is there a Graph deployment to read (the rollout is active)?"""
    return rollout.status == RolloutStatus.ACTIVE and rollout.graph_deployment_id is not None


async def observe(services: RolloutServices, rollout: Rollout) -> Observation | None:
    """Read the rollout's deployment from Graph now (None if it has none); touches no database."""
    if not has_deployment(rollout) or rollout.graph_deployment_id is None:
        return None
    try:
        found = await services.graph.get_deployment(rollout.graph_deployment_id)
    except GraphNotFound as missing:
        return Observation(None, services.clock(), tuple(missing.request_ids))
    return Observation(found.value, services.clock(), tuple(found.request_ids))


def record_observation(
    services: RolloutServices, rollout: Rollout, observation: Observation
) -> None:
    """Keep what Graph showed in the rollout, with an audit event for a change made outside."""
    if observation.deployment is None:
        _record_external(services, rollout, "rollout.deletedOutside", {}, observation.request_ids)
        rollout.move_to(RolloutStatus.DELETED)
        rollout.deleted_at = observation.at
        rollout.ended_at = rollout.ended_at or rollout.deleted_at
        return
    observed = ObservedState.from_deployment(observation.deployment, observation.at)
    if observed.is_archived:
        rollout.ended_at = rollout.ended_at or observation.at
    before = rollout.observed
    if before is not None and observed.differs_from(before):
        detail = {"from": before.public(), "to": observed.public()}
        _record_external(services, rollout, "rollout.stateObserved", detail, ())
    rollout.observed = observed


async def refresh_state(services: RolloutServices, rollout: Rollout) -> Deployment | None:
    """Read the deployment's state from Graph before a change, holding no lock and no database
    connection while Graph answers, then lock the row (read afresh) for the change the caller
    makes next. What Graph showed is recorded, with an audit event for a change made outside,
    unless the row changed meanwhile (then the newer record stands). Reads use read_rollout."""
    session = services.uow.session
    await services.uow.commit()  # nothing is written yet: this only hands the connection back
    observation = await observe(services, rollout)
    unchanged = await lock_if_unchanged(session, rollout) if observation is not None else None
    if observation is not None and unchanged is not None:
        record_observation(services, unchanged, observation)
        return observation.deployment
    await session.refresh(rollout, with_for_update=True)
    return observation.deployment if observation is not None else None


async def read_rollout(
    services: RolloutServices, rollout_id: str
) -> tuple[Rollout, tuple[int, int] | None]:
    """The rollout with its state read from Graph now, with no row lock and no database
    connection held while Graph answers: the row is read and the transaction ended, Graph is
    read, and what it showed is recorded only if the row has not changed meanwhile
    (repository.lock_if_unchanged); otherwise the newer record stands.

    With it, the audience counts (repository.audience_counts) when they were read with the
    row; None when what Graph showed is being recorded (the caller counts after writing) or
    the row changed meanwhile. Reads that write nothing run without a transaction
    (app.db_reads.reading_only): one round trip each."""
    session = services.uow.session
    await reading_only(session)
    rollout = await get_or_404(session, rollout_id)
    if not has_deployment(rollout):  # nothing to read from Graph
        counts = await audience_counts(session, [rollout.id])
        return rollout, counts[rollout.id]
    await services.uow.commit()  # ends the read: the connection goes back to the pool
    observation = await observe(services, rollout)
    if observation is None:
        return rollout, None
    if not worth_recording(rollout, observation):
        # Graph shows what was recorded moments ago: write nothing. The row is read again (a
        # change made meanwhile wins); if it is as it was, the answer carries the time of this
        # reading, set as if loaded so that no flush writes it.
        assert observation.deployment is not None
        read_at = rollout.updated_at
        await reading_only(session)
        counted = await reload_counted(session, rollout)
        if counted is None:  # deleted meanwhile (never by the service: rows are kept)
            raise RolloutNotFound(f"No rollout has the id {rollout_id}.")
        if rollout.updated_at == read_at:
            observed = ObservedState.from_deployment(observation.deployment, observation.at)
            set_committed_value(rollout, "graph_state", observed.to_record())
        return rollout, counted
    if unchanged := await lock_if_unchanged(session, rollout):
        record_observation(services, unchanged, observation)
    return rollout, None


RECORD_UNCHANGED_EVERY = timedelta(seconds=60)
"""A read that finds Graph's state as recorded writes it (its new observedAt) at most this
often per rollout: many readers of one rollout cost no write each, and the list's observedAt
stays within this of the latest read."""


def worth_recording(rollout: Rollout, observation: Observation) -> bool:
    """Does the observation change the record: another state, a deletion, an end, or a
    recorded time older than RECORD_UNCHANGED_EVERY?"""
    before = rollout.observed
    if observation.deployment is None or before is None or before.observed_at is None:
        return True
    observed = ObservedState.from_deployment(observation.deployment, observation.at)
    if observed.public() != before.public():
        return True
    if observed.is_archived and rollout.ended_at is None:
        return True
    return observation.at - before.observed_at >= RECORD_UNCHANGED_EVERY


def _public_state(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("effective", "requested", "reasons")}


def _record_external(
    services: RolloutServices,
    rollout: Rollout,
    action: str,
    detail: dict[str, Any],
    request_ids: tuple[str, ...] | list[str],
) -> None:
    """A change Graph reports that the service did not make (monitoring, schedule, deletion)."""
    context = ChangeContext(actor="graph", ticket=None, reason=None, request_id=None)
    AuditRecorder(services.uow, context).record(
        action=action,
        outcome="succeeded",
        rollout_id=rollout.id,
        graph_request_ids=request_ids,
        detail=detail,
    )


def ensure_actionable(rollout: Rollout) -> None:
    """409 unless the rollout has a live Graph deployment that is not archived."""
    if rollout.status == "deleted":
        raise RolloutDeleted(f"Rollout {rollout.id} was deleted; it can only be read.")
    if rollout.status != "active":
        raise RolloutNotActive(
            f"Rollout {rollout.id} is {rollout.status}; Graph has no deployment."
        )
    if (rollout.graph_state or {}).get("effective") == "archived":
        raise RolloutArchived(f"Rollout {rollout.id} is archived; archived rollouts cannot change.")


async def change_state(
    services: RolloutServices, context: ChangeContext, rollout: Rollout, action: str
) -> bool:
    """pause / resume / archive; returns False when it was already so (nothing was done)."""
    check_ticket(services, context)
    await refresh_state(services, rollout)
    ensure_actionable(rollout)
    requested = STATE_ACTIONS[action]
    if action != "archive" and (rollout.graph_state or {}).get("requested") == requested:
        return False
    await run_command(
        services,
        context,
        rollout,
        kind=kinds.SET_STATE,
        action=f"rollout.{action}",
        payload={"requested": requested},
        detail={"requestedState": requested},
    )
    return True


async def delete_rollout(
    services: RolloutServices, context: ChangeContext, rollout: Rollout
) -> bool:
    """Delete the Graph deployment; the rollout stays readable. False if already deleted."""
    check_ticket(services, context)
    await refresh_state(services, rollout)  # a deployment deleted outside is settled, not a 502
    if rollout.status == RolloutStatus.DELETED:
        return False
    if rollout.status != RolloutStatus.ACTIVE or rollout.graph_deployment_id is None:
        raise RolloutNotActive(
            f"Rollout {rollout.id} is {rollout.status}; Graph has no deployment."
        )
    await run_command(
        services,
        context,
        rollout,
        kind=kinds.DELETE,
        action="rollout.delete",
        payload={},
        detail={"graphDeploymentId": rollout.graph_deployment_id},
    )
    return True
