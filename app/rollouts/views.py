"""Rollout rows → the public rollout resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.graph.wire import Deployment
from app.operations.schemas import OperationOut
from app.rollouts.models import Rollout
from app.rollouts.observed import ObservedState
from app.rollouts.schemas import AudienceCounts, RolloutOut, StateOut, UpdateOut
from app.rollouts.status import RolloutStatus


def graph_state_record(deployment: Deployment, observed_at: datetime) -> dict[str, Any]:
    """What we keep of a deployment's state (ObservedState.to_record)."""
    return ObservedState.from_deployment(deployment, observed_at).to_record()


def state_out(rollout: Rollout) -> StateOut:
    """Our own lifecycle wins (creating, failed, deleted); otherwise Graph's last report."""
    observed = rollout.observed
    if rollout.status != RolloutStatus.ACTIVE or observed is None:
        return StateOut(effective=rollout.status.value)
    return StateOut(
        effective=observed.effective,
        requested=observed.requested,
        reasons=list(observed.reasons),
        observedAt=observed.observed_at,
    )


def rollout_out(
    rollout: Rollout,
    counts: tuple[int, int] = (0, 0),
    operation: OperationOut | None = None,
) -> RolloutOut:
    """The public view of a rollout."""
    settings = rollout.settings
    update = settings.get("update", {})
    return RolloutOut(
        id=str(rollout.id),
        graphDeploymentId=rollout.graph_deployment_id,
        name=rollout.name,
        ticket=rollout.ticket,
        update=UpdateOut(
            kind=rollout.update_kind,
            catalogEntryId=rollout.catalog_entry_id,
            version=rollout.update_version,
            displayName=rollout.update_display_name,
            buildNumber=rollout.build_number,
            expedite=update.get("expedite"),
            readinessTest=update.get("readinessTest"),
        ),
        schedule=settings.get("schedule"),
        monitoring=settings.get("monitoring"),
        userExperience=settings.get("userExperience"),
        safeguards=settings.get("safeguards") or {"enabled": True},
        state=state_out(rollout),
        audience=AudienceCounts(members=counts[0], exclusions=counts[1]),
        reason=rollout.reason,
        createdAt=rollout.created_at,
        createdBy=rollout.created_by,
        updatedAt=rollout.updated_at,
        audienceOperation=operation,
    )
