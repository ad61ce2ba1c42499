"""Rollout rows → the public rollout resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.graph.wire import Deployment
from app.operations.schemas import OperationOut
from app.rollouts.models import Rollout
from app.rollouts.schemas import AudienceCounts, RolloutOut, StateOut, UpdateOut


def graph_state_record(deployment: Deployment, observed_at: datetime) -> dict[str, Any]:
    """What we keep of a deployment's state: effective, requested, reasons, when observed."""
    state = deployment.state
    return {
        "effective": (state.effective_value if state else None) or "unknown",
        "requested": state.requested_value if state else None,
        "reasons": [r.value for r in state.reasons] if state else [],
        "observedAt": observed_at.isoformat(),
    }


def state_out(rollout: Rollout) -> StateOut:
    """Our own lifecycle wins (creating, failed, deleted); otherwise Graph's last report."""
    if rollout.status != "active" or not rollout.graph_state:
        return StateOut(effective=rollout.status)
    recorded = rollout.graph_state
    observed = recorded.get("observedAt")
    return StateOut(
        effective=recorded.get("effective") or "unknown",
        requested=recorded.get("requested"),
        reasons=list(recorded.get("reasons") or []),
        observedAt=datetime.fromisoformat(observed) if observed else None,
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
