"""Public API models of operations."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.api_types import UtcOut

OperationStatus = Literal["queued", "running", "succeeded", "partiallySucceeded", "failed"]


class DeviceError(BaseModel):
    """Why one device's change failed."""

    deviceId: str
    change: str = Field(examples=["addMember"])
    code: str = Field(examples=["ServiceUnavailable"])
    message: str


class OperationOut(BaseModel):
    """Work that continues after the request: poll it until `finishedAt` is set."""

    id: str
    kind: str = Field(examples=["audience.update"])
    rolloutId: str
    status: OperationStatus
    total: int = Field(description="device changes in the operation")
    succeeded: int
    failed: int
    errors: list[DeviceError] = Field(description="the failed device changes (first 1000)")
    ticket: str | None
    actor: str
    createdAt: UtcOut
    startedAt: UtcOut | None
    finishedAt: UtcOut | None
