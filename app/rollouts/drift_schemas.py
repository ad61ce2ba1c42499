"""The answer of POST /v1/rollouts/{id}/reconcile: what differs between the service and Graph."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api_types import UtcOut

DriftKind = Literal["state", "settings", "members", "exclusions"]

RECONCILE_EXAMPLE: dict[str, Any] = {
    "rolloutId": "6f1c2a9e-3b7d-4c55-9a0e-2d8b1f4e7a10",
    "checkedAt": "2026-12-02T09:30:00Z",
    "differences": [
        {
            "kind": "members",
            "missing": ["0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01"],
            "extra": ["7c2d9e41-0a3b-4f6e-8d15-9b4a6c2e1f07"],
            "deviceCount": 2,
        },
        {
            "kind": "state",
            "expected": {"effective": "offering", "requested": "none", "reasons": []},
            "found": {
                "effective": "paused",
                "requested": "none",
                "reasons": ["pausedByMonitoring"],
            },
            "deviceCount": 0,
        },
    ],
    "auditEventIds": [1043, 1044],
}


class Difference(BaseModel):
    """One way Graph differs from the service's record of the rollout."""

    kind: DriftKind = Field(
        description="state (Graph's state vs the one last recorded), settings (Graph's vs the"
        " ones the service would send), members or exclusions (device ids)"
    )
    missing: list[str] | None = Field(
        default=None,
        description="members / exclusions: devices the service has confirmed that Graph does"
        " not list, sorted",
    )
    extra: list[str] | None = Field(
        default=None,
        description="members / exclusions: devices Graph lists that the service never"
        " confirmed, sorted",
    )
    expected: dict[str, Any] | None = Field(
        default=None,
        description="state / settings: the service's view (settings as Graph's settings body,"
        " without `@odata.type`, empty parts and Graph's defaults)",
    )
    found: dict[str, Any] | None = Field(
        default=None, description="state / settings: what Graph has, in the same form"
    )
    deviceCount: int = Field(description="how many devices the difference concerns")


class DriftReport(BaseModel):
    """What one comparison of a rollout with Graph found, and the audit events it recorded."""

    model_config = ConfigDict(json_schema_extra={"examples": [RECONCILE_EXAMPLE]})

    rolloutId: str
    checkedAt: UtcOut = Field(description="when Graph was read")
    differences: list[Difference] = Field(
        description="every difference now, including those recorded by an earlier check"
    )
    auditEventIds: list[int] = Field(
        description="the `rollout.driftFound` / `rollout.driftCleared` events this check"
        " recorded: a difference already recorded, unchanged, is not recorded again"
    )
    notChecked: list[DriftKind] = Field(
        default_factory=list,
        description="parts the service changed while Graph was being read; the next check"
        " compares them",
    )
