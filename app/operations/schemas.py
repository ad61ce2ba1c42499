"""Public API models of operations."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api_types import UtcOut

OperationStatus = Literal["queued", "running", "succeeded", "partiallySucceeded", "failed"]
OperationKind = Literal["audience.update", "devices.release"]


class DeviceError(BaseModel):
    """Why one device's change failed, and what to do about it."""

    deviceId: str
    change: str = Field(
        examples=["addMember"],
        description="addMember, removeMember, addExclusion, removeExclusion or unenroll",
    )
    code: str = Field(
        examples=["invalidAzureADJoin"],
        description="Graph's registration error reason, Graph's error code, or the service's"
        " own (notAttempted, notConfirmed, deviceInActiveRollout)",
    )
    message: str
    hint: str | None = Field(
        default=None, description="What to fix, in plain language (registration errors)"
    )


class DeviceWarning(BaseModel):
    """A device change that succeeded but that Graph had not fully confirmed in time."""

    deviceId: str
    code: str = Field(
        examples=["enrollmentPending"], description="enrollmentPending or unenrollmentPending"
    )
    message: str


class Retrying(BaseModel):
    """Graph is down or throttling: the unsent devices wait, and the operation tries again."""

    code: str = Field(examples=["ServiceUnavailable"])
    message: str
    since: UtcOut


class OperationOut(BaseModel):
    """Work that continues after the request: poll it until `finishedAt` is set."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3a9d5c1e-2b4f-4e6a-8c0d-1f2e3a4b5c6d",
                    "kind": "audience.update",
                    "rolloutId": "6f1c2a4e-8b3d-4f5a-9c7e-2d1b0a9f8e7d",
                    "status": "running",
                    "total": 5000,
                    "succeeded": 3200,
                    "failed": 0,
                    "errors": [],
                    "warnings": [],
                    "ticket": "CHG0012399",
                    "actor": "svc-servicenow",
                    "createdAt": "2026-12-01T09:00:00Z",
                    "startedAt": "2026-12-01T09:00:01Z",
                    "finishedAt": None,
                }
            ]
        }
    )

    id: str
    kind: OperationKind
    rolloutId: str | None = Field(description="null for a release asked for outside a rollout")
    status: OperationStatus = Field(
        description="queued, running (sending, then waiting for Graph to show the result),"
        " succeeded, partiallySucceeded or failed"
    )
    total: int = Field(description="device changes in the operation")
    succeeded: int = Field(description="changes Graph has shown applied")
    failed: int
    errors: list[DeviceError] = Field(description="the failed device changes (first 1000)")
    warnings: list[DeviceWarning] = Field(
        description="succeeded changes Graph had not fully confirmed in time (first 1000)"
    )
    retrying: Retrying | None = Field(
        default=None,
        description="set while Graph is unavailable or throttling: the devices not sent yet"
        " wait and the operation tries again, backing off (for about 18 hours)",
    )
    ticket: str | None
    actor: str
    createdAt: UtcOut
    startedAt: UtcOut | None
    finishedAt: UtcOut | None
