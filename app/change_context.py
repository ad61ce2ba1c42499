"""Who asks for a change, under which ticket and why: what every audit event records."""

from __future__ import annotations

from dataclasses import dataclass, replace


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

    def approved(self, approval: dict[str, str] | None) -> ChangeContext:
        """This context with the approval an earlier record of the change kept (its intent's
        or its operation's `approval`), so that every later event names the approver too."""
        if not approval or self.approved_by is not None:
            return self
        return replace(
            self, approved_by=approval.get("approvedBy"), change_id=approval.get("changeId")
        )

    def approval(self) -> dict[str, str] | None:
        """What the audit records of the approval, if the change needed one."""
        if self.approved_by is None:
            return None
        return {"changeId": self.change_id or "", "approvedBy": self.approved_by}
