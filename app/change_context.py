"""Who asks for a change, under which ticket and why: what every audit event records."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChangeContext:
    """The actor, ticket, reason and request id of one change."""

    actor: str
    ticket: str | None
    reason: str | None
    request_id: str | None
