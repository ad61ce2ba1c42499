"""Public API models of change review: a dry run's plan, and a change waiting for approval."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api_types import Reason, UtcOut

ChangeStatus = Literal["pendingApproval", "approved", "applied", "failed", "rejected", "expired"]
ChangeAction = Literal[
    "create", "patch", "pause", "resume", "archive", "delete", "audience", "release"
]


class PlannedCall(BaseModel):
    """A Graph call the request would make; repeated calls of one kind are one entry."""

    method: str = Field(examples=["POST"])
    path: str = Field(
        description="Under GRAPH_BASE_URL. `{newDeploymentId}` and `{newAudienceId}` stand for"
        " ids Graph assigns when the request runs",
        examples=["/admin/windows/updates/deployments"],
    )
    body: dict[str, Any] | None = Field(description="The JSON body (of the first such call)")
    calls: int = Field(description="How many such calls (chunks of a large change)", ge=1)
    devices: int = Field(description="How many devices those calls name in all", ge=0)


class PlannedEvent(BaseModel):
    """An audit event the request would record."""

    actor: str
    action: str = Field(examples=["rollout.create"])
    outcome: Literal["requested", "succeeded", "failed"]
    rolloutId: str | None = Field(
        description="The rollout (for a create: an id the real request will not reuse)"
    )
    ticket: str | None
    reason: str | None
    deviceCount: int
    detail: dict[str, Any]


PLAN_EXAMPLE: dict[str, Any] = {
    "dryRun": True,
    "approvalRequired": False,
    "plan": [
        {
            "method": "POST",
            "path": "/admin/windows/updates/updatableAssets/"
            "microsoft.graph.windowsUpdates.enrollAssets",
            "body": {"updateCategory": "feature", "assets": ["…200 devices…"]},
            "calls": 50,
            "devices": 10000,
        },
        {
            "method": "POST",
            "path": "/admin/windows/updates/deployments/b5171742-1742-1742-1742-b51717421742"
            "/audience/microsoft.graph.windowsUpdates.updateAudience",
            "body": {"addMembers": ["…200 devices…"]},
            "calls": 50,
            "devices": 10000,
        },
    ],
    "auditEvents": [
        {
            "actor": "svc-servicenow",
            "action": "audience.update",
            "outcome": "requested",
            "rolloutId": "5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38",
            "ticket": "CHG0012399",
            "reason": "Add the finance floors",
            "deviceCount": 10000,
            "detail": {"addMember": 10000, "removeMember": 0},
        }
    ],
}


class DryRunOut(BaseModel):
    """What the request would do, had it not been a dry run: nothing was written or sent."""

    model_config = ConfigDict(json_schema_extra={"examples": [PLAN_EXAMPLE]})

    dryRun: Literal[True] = True
    approvalRequired: bool = Field(
        description="Would the real request wait for a second person's approval (APPROVALS)?"
    )
    plan: list[PlannedCall] = Field(description="The Graph writes, in order")
    auditEvents: list[PlannedEvent] = Field(
        description="The events the request records; an operation it queues also records, as it"
        " runs, a `requested` and an outcome event for each Graph call"
    )


class ChangeRequestOut(BaseModel):
    """The request as its caller sent it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any = Field(description="The JSON body, or null")


CHANGE_EXAMPLE: dict[str, Any] = {
    "id": "9b1d7c3e-2f4a-4e6b-8c0d-1e2f3a4b5c6d",
    "status": "pendingApproval",
    "action": "audience",
    "rolloutId": "5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38",
    "devices": 10000,
    "request": {
        "method": "POST",
        "path": "/v1/rollouts/5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38/audience",
        "query": {},
        "body": {"addDevices": ["…10000 devices…"], "ticket": "CHG0012399"},
    },
    "plan": PLAN_EXAMPLE["plan"],
    "auditEvents": PLAN_EXAMPLE["auditEvents"],
    "requestedBy": "svc-servicenow",
    "ticket": "CHG0012399",
    "reason": "Add the finance floors",
    "requestedAt": "2026-12-01T09:00:00Z",
    "expiresAt": "2026-12-04T09:00:00Z",
    "decidedBy": None,
    "decidedAt": None,
    "decisionReason": None,
    "result": None,
}


class ChangeResult(BaseModel):
    """The answer the request got when it was carried out."""

    status: int = Field(description="Its HTTP status")
    body: Any = Field(description="Its JSON body")


class ChangeOut(BaseModel):
    """A change that needs a second person: proposed, then approved (and carried out as its
    requester asked), rejected, or expired."""

    model_config = ConfigDict(json_schema_extra={"examples": [CHANGE_EXAMPLE]})

    id: str
    status: ChangeStatus = Field(
        description="`pendingApproval` → `approved` (being carried out) → `applied` (done; or"
        " `failed` when the request no longer applied: `result` says why); or `rejected`, or"
        " `expired` after APPROVAL_TTL"
    )
    action: ChangeAction
    rolloutId: str | None = Field(description="The rollout it changes (null for a create)")
    devices: int = Field(description="How many devices it reaches (what `audience>N` counts)")
    request: ChangeRequestOut
    plan: list[PlannedCall] = Field(description="The Graph writes it makes (a dry run's plan)")
    auditEvents: list[PlannedEvent]
    requestedBy: str
    ticket: str | None
    reason: str | None
    requestedAt: UtcOut
    expiresAt: UtcOut
    decidedBy: str | None = Field(description="Who approved or rejected it")
    decidedAt: UtcOut | None
    decisionReason: str | None
    result: ChangeResult | None = Field(description="Once carried out: what it answered")


class RejectRequest(BaseModel):
    """Why the change is rejected."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Recorded in the audit log and shown on the change")
