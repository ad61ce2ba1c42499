"""Public API models of audit events and of a chain verification, and the RFC 3339 type of
the `from`/`to` filters."""

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
    "seq": 1040,
    "hash": "9f2c4e8a1b7d3f6e0a5c9b2d8e4f1a7c3b6d0e9f2a5c8b1d4e7f0a3c6b9d2e5f",
    "previousHash": "4b1e7d0a3c6f9b2e5d8a1c4f7b0e3d6a9c2f5b8e1d4a7c0f3b6e9d2a5c8f1b4e",
}

HASH_PATTERN = "^[0-9a-f]{64}$"


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
    seq: int = Field(
        description="The event's place in the hash chain: 1, 2, 3, … without gaps, in the order"
        " events were committed (the list's order; `GET /v1/audit/verify` takes ranges of it)"
    )
    hash: str = Field(
        pattern=HASH_PATTERN,
        description="SHA-256 (lower-case hex) of the event's canonical text, which includes"
        " `seq` and `previousHash` (the recipe is in the API guide, Audit)",
    )
    previousHash: str = Field(
        pattern=HASH_PATTERN,
        description="The `hash` of the event with `seq - 1`; 64 zeros for the first event",
    )


ChainProblem = Literal["hashMismatch", "brokenLink", "gap", "headMismatch", "missingSeq"]


class BrokenEvent(BaseModel):
    """Where the chain breaks first, and how."""

    id: int | None = Field(
        description="The event (null only when no event is left to name: all were deleted)"
    )
    seq: int | None = Field(description="Its `seq` (null for `missingSeq`: it has none)")
    problem: ChainProblem = Field(
        description="`hashMismatch`: the event's content or `previousHash` is not what its"
        " `hash` was computed from (it was changed). `brokenLink`: its `previousHash` is not the"
        " `hash` of the event before it (that one was changed and its hash recomputed)."
        " `gap`: events before it are missing (deleted). `headMismatch`: it is the newest"
        " event, but the chain's head records another (newer events were deleted, or it was"
        " changed and its hash recomputed). `missingSeq`: an event stored without a place in"
        " the chain (written behind the database's triggers)."
    )
    message: str = Field(description="The same, for people, with the values involved")


_VERIFIED: dict[str, Any] = {
    "ok": True,
    "events": 18342,
    "fromSeq": 1,
    "toSeq": 18342,
    "headHash": "9f2c4e8a1b7d3f6e0a5c9b2d8e4f1a7c3b6d0e9f2a5c8b1d4e7f0a3c6b9d2e5f",
    "firstBroken": None,
}
_BROKEN: dict[str, Any] = {
    "ok": False,
    "events": 1041,
    "fromSeq": 1,
    "toSeq": 18342,
    "headHash": None,
    "firstBroken": {
        "id": 1042,
        "seq": 1042,
        "problem": "hashMismatch",
        "message": "event 1042 (seq 1042) does not hash to its stored hash: it was changed",
    },
}
VERIFY_EXAMPLES: dict[str, Any] = {
    "intact": {"summary": "The chain is intact", "value": _VERIFIED},
    "broken": {"summary": "An event was changed", "value": _BROKEN},
}


class ChainVerification(BaseModel):
    """The result of recomputing the audit log's hash chain over `fromSeq`…`toSeq`."""

    model_config = ConfigDict(json_schema_extra={"examples": [_VERIFIED, _BROKEN]})

    ok: bool = Field(description="True when every event checked is as it was written")
    events: int = Field(
        description="Events checked and found intact (when not `ok`: those before `firstBroken`)"
    )
    fromSeq: int = Field(description="The first `seq` of the range")
    toSeq: int = Field(
        description="The last `seq` of the range: the `toSeq` asked for, or the newest event's"
        " if that is lower or none was asked for (0 when the log is empty)"
    )
    headHash: str | None = Field(
        description="When `ok`: the `hash` of the event at `toSeq` (64 zeros when `toSeq` is"
        " 0). Keep it with `toSeq` outside the service: a later verification up to the same"
        " `toSeq` must answer the same `headHash`."
    )
    firstBroken: BrokenEvent | None = Field(description="When not `ok`: where the chain breaks")
