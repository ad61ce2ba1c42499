"""Who asks for a change, under which ticket and why: what every audit event records."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChangeContext:
    """The actor, ticket, reason and request id of one change; for a change carried out on a
    second person's approval, who approved it and the change's id."""

    actor: str
    ticket: str | None
    reason: str | None
    request_id: str | None
    approved_by: str | None = None
    change_id: str | None = None

    def approval(self) -> dict[str, str] | None:
        """What the audit records of the approval, if the change needed one."""
        if self.approved_by is None:
            return None
        return {"changeId": self.change_id or "", "approvedBy": self.approved_by}
