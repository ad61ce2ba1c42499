"""Public API models of audit events, and the RFC 3339 type of the `from`/`to` filters."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.api_types import UtcOut

Outcome = Literal["requested", "succeeded", "failed"]

LIST_DEVICE_IDS = 100
"""How many device ids an event carries in the list; the single-event read has them all."""

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("not an RFC 3339 timestamp with an offset, such as 2026-12-01T08:00:00Z")
    return value


Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339)]

_EXAMPLE: dict[str, Any] = {
    "id": 1042,
    "at": "2026-11-28T12:00:03Z",
    "actor": "svc-servicenow",
    "action": "graph.updateAudience",
    "outcome": "succeeded",
    "rolloutId": "5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38",
    "operationId": "c3f1e2d4-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
    "intentId": 1041,
    "ticket": "CHG0012399",
    "reason": "Add finance floor 3",
    "requestId": "7f9c2b1e4d3a4f6b",
    "graphRequestIds": ["0f3b6c1e-2a9d-4e7b-8c5f-1d2e3f4a5b6c"],
    "deviceCount": 2,
    "deviceIds": [
        "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01",
        "1c9b4a6f-65a2-4c2e-8e8f-4d9a3b2c7d12",
    ],
    "detail": {"addMember": 2, "removeMember": 0},
}


class AuditEventOut(BaseModel):
    """One audit event: who did what to which rollout, when, why, and what Graph answered."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: int = Field(description="Increases with every event: the log's order")
    at: UtcOut = Field(description="When the event was written")
    actor: str = Field(description="The authenticated caller, or the service itself")
    action: str = Field(examples=["audience.update"])
    outcome: Outcome = Field(
        description="`requested` is written before Graph is called; `succeeded` or `failed`"
        " closes it (its `intentId` names the `requested` event)"
    )
    rolloutId: str | None
    operationId: str | None
    intentId: int | None = Field(description="The `requested` event this outcome closes")
    ticket: str | None
    reason: str | None
    requestId: str | None = Field(description="`X-Request-ID` of the request that did it")
    graphRequestIds: list[str] = Field(description="Graph's `request-id` of every call made")
    deviceCount: int = Field(description="How many devices the event names")
    deviceIds: list[str] = Field(
        description=f"The devices the event names; in the list, only the first {LIST_DEVICE_IDS}"
        " (compare with `deviceCount`; read the event by id for all of them)"
    )
    detail: dict[str, Any] = Field(description="What else the action recorded (free-form)")
