"""How plans and changes are shown: the stored form of a plan and the API models."""

from __future__ import annotations

from typing import Any

from app.review.dry_run import Plan
from app.review.models import Change
from app.review.schemas import ChangeOut, DryRunOut, PlannedCall, PlannedEvent


def plan_record(plan: Plan) -> dict[str, Any]:
    """A plan as JSON: its calls and the audit events of the request."""
    return {
        "plan": [
            PlannedCall(
                method=step.method,
                path=step.path,
                body=step.body,
                calls=step.calls,
                devices=step.devices,
            ).model_dump(mode="json")
            for step in plan.steps
        ],
        "auditEvents": [
            PlannedEvent(
                actor=event.actor,
                action=event.action,
                outcome=event.outcome,
                rolloutId=str(event.rollout_id) if event.rollout_id else None,
                ticket=event.ticket,
                reason=event.reason,
                deviceCount=len(event.device_ids or ()),
                detail=event.detail or {},
            ).model_dump(mode="json")
            for event in plan.events
        ],
    }


def dry_run_out(plan: dict[str, Any], approval_required: bool) -> DryRunOut:
    """The answer of a dry run, from its plan_record."""
    return DryRunOut.model_validate({"dryRun": True, "approvalRequired": approval_required, **plan})


def change_out(change: Change) -> ChangeOut:
    """The API view of a change."""
    return ChangeOut.model_validate(
        {
            "id": str(change.id),
            "status": change.status,
            "action": change.action,
            "rolloutId": str(change.rollout_id) if change.rollout_id else None,
            "devices": change.devices,
            "request": change.request,
            "plan": change.plan.get("plan", []),
            "auditEvents": change.plan.get("auditEvents", []),
            "requestedBy": change.requested_by,
            "ticket": change.ticket,
            "reason": change.reason,
            "requestedAt": change.created_at,
            "expiresAt": change.expires_at,
            "decidedBy": change.decided_by,
            "decidedAt": change.decided_at,
            "decisionReason": change.decision_reason,
            "result": change.result,
        }
    )
