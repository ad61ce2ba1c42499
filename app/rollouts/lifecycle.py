"""A rollout's state: read from Graph, paused, resumed, archived, deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.graph.errors import GraphNotFound
from app.graph.results import GraphResult
from app.graph.specs import RequestedState
from app.graph.wire import Deployment
from app.rollouts.errors import (
    RolloutArchived,
    RolloutDeleted,
    RolloutNotActive,
)
from app.rollouts.models import Rollout
from app.rollouts.observed import ObservedState
from app.rollouts.service import (
    RolloutServices,
    check_ticket,
)
from app.rollouts.status import RolloutStatus
from app.rollouts.views import graph_state_record

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


async def observe(services: RolloutServices, rollout: Rollout) -> Observation | None:
    """Read the rollout's deployment from Graph now (None if it has none); touches no database."""
    if rollout.status != RolloutStatus.ACTIVE or rollout.graph_deployment_id is None:
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
    """Read the deployment's state from Graph, recording changes made outside the service."""
    observation = await observe(services, rollout)
    if observation is None:
        return None
    record_observation(services, rollout, observation)
    return observation.deployment


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
    assert rollout.graph_deployment_id is not None
    deployment_id = rollout.graph_deployment_id

    async def call() -> GraphResult[Deployment | None]:
        return await services.graph.set_requested_state(deployment_id, requested)

    async def succeeded(deployment: Deployment | None) -> dict[str, Any]:
        if deployment is not None and deployment.state is not None:
            rollout.graph_state = graph_state_record(deployment, services.clock())
        else:
            rollout.graph_state = {**(rollout.graph_state or {}), "requested": requested}
        if requested == "archived":
            rollout.ended_at = rollout.ended_at or services.clock()
        return {"state": _public_state(rollout.graph_state)}

    await AuditRecorder(services.uow, context).graph_write(
        action=f"rollout.{action}",
        rollout_id=rollout.id,
        detail={"requestedState": requested},
        call=call,
        on_success=succeeded,
    )
    return True


async def delete_rollout(
    services: RolloutServices, context: ChangeContext, rollout: Rollout
) -> bool:
    """Delete the Graph deployment; the rollout stays readable. False if already deleted."""
    check_ticket(services, context)
    await refresh_state(services, rollout)  # a deployment deleted outside is settled, not a 502
    if rollout.status == "deleted":
        return False
    if rollout.status != "active" or rollout.graph_deployment_id is None:
        raise RolloutNotActive(
            f"Rollout {rollout.id} is {rollout.status}; Graph has no deployment."
        )
    deployment_id = rollout.graph_deployment_id
    gone_already: list[bool] = []

    async def call() -> GraphResult[None]:
        try:
            return await services.graph.delete_deployment(deployment_id)
        except GraphNotFound as gone:  # deleted between our read and the DELETE: done
            gone_already.append(True)
            return GraphResult(None, list(gone.request_ids))

    async def succeeded(_: None) -> dict[str, Any]:
        rollout.status = RolloutStatus.DELETED
        rollout.deleted_at = services.clock()
        rollout.ended_at = rollout.ended_at or rollout.deleted_at
        return {"graphDeploymentId": deployment_id, "alreadyGone": bool(gone_already)}

    await AuditRecorder(services.uow, context).graph_write(
        action="rollout.delete",
        rollout_id=rollout.id,
        detail={"graphDeploymentId": deployment_id},
        call=call,
        on_success=succeeded,
    )
    return True
