"""Writes audit events, and wraps a worker's Graph writes in intent → call → outcome."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from app.audit import writing
from app.audit.models import AuditEvent
from app.change_context import ChangeContext
from app.graph.errors import GraphError
from app.graph.results import GraphResult
from app.observability.audit_metrics import AUDIT_EVENTS
from app.problems import ProblemError
from app.unit_of_work import UnitOfWork

T = TypeVar("T")


class OutcomeNotRecorded(ProblemError):
    type = "urn:problem:outcome-not-recorded"
    title = "Graph made the change but the service could not record it"
    status = 503


def graph_error_detail(error: GraphError) -> dict[str, Any]:
    """What the audit keeps of a Graph failure."""
    return {
        "graphStatus": error.status,
        "graphError": error.code,
        "graphMessage": error.message,
        "outcomeUnknown": error.outcome_unknown,
    }


class AuditRecorder:
    """Appends audit events for one change context to the unit of work's session."""

    def __init__(self, uow: UnitOfWork, context: ChangeContext) -> None:
        self.uow = uow
        self.context = context

    def record(
        self,
        *,
        action: str,
        outcome: str,
        rollout_id: uuid.UUID | None = None,
        operation_id: uuid.UUID | None = None,
        intent: AuditEvent | None = None,
        device_ids: Sequence[str] = (),
        graph_request_ids: Sequence[str] = (),
        detail: dict[str, Any] | None = None,
        actor: str | None = None,
        intent_id: int | None = None,
    ) -> AuditEvent:
        """Add one event (flushed with the next commit), closing `intent` (or the intent whose
        id is `intent_id`) if given. A change carried out on approval names its approver in
        every event it records (`detail.approval`)."""
        approval = self.context.approval()
        if approval is not None:
            detail = {**(detail or {}), "approval": approval}
        event = AuditEvent(
            actor=actor or self.context.actor,
            action=action,
            outcome=outcome,
            rollout_id=rollout_id,
            operation_id=operation_id,
            intent_id=intent.id if intent is not None else intent_id,
            ticket=self.context.ticket,
            reason=self.context.reason,
            request_id=self.context.request_id,
            device_ids=list(device_ids),
            graph_request_ids=list(graph_request_ids),
            detail=detail or {},
        )
        writing.add(self.uow.session.sync_session, event)
        if self.uow.dry_run is not None:
            self.uow.dry_run.events.append(event)
        self.uow.after_commit(lambda: AUDIT_EVENTS.labels(outcome).inc())
        return event

    def _close(
        self,
        intent: AuditEvent,
        outcome: str,
        graph_request_ids: Sequence[str],
        detail: dict[str, Any] | None,
    ) -> AuditEvent:
        """The outcome event of an intent: same action, rollout, operation and devices."""
        return self.record(
            action=intent.action,
            outcome=outcome,
            rollout_id=intent.rollout_id,
            operation_id=intent.operation_id,
            intent=intent,
            device_ids=intent.device_ids,
            graph_request_ids=graph_request_ids,
            detail=detail,
        )

    def intend(
        self,
        *,
        action: str,
        rollout_id: uuid.UUID | None = None,
        operation_id: uuid.UUID | None = None,
        device_ids: Sequence[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """The `requested` event of a Graph write, for the caller to commit before the call
        (carry_out makes it)."""
        return self.record(
            action=action,
            outcome="requested",
            rollout_id=rollout_id,
            operation_id=operation_id,
            device_ids=device_ids,
            detail=detail,
        )

    def not_sent(self, intent: AuditEvent, reason: str) -> AuditEvent:
        """Close a committed intent whose call was never made (an earlier call failed)."""
        return self._close(intent, "failed", (), {"notSent": reason})

    async def carry_out(
        self, intent: AuditEvent, call: Callable[[], Awaitable[GraphResult[T]]]
    ) -> GraphResult[T]:
        """Call Graph for a committed `intent` (never before it is committed: a crash must not
        leave a call with no trace). A failure is recorded as `failed` with Graph's code and
        request ids, committed, and re-raised. The `succeeded` event is left to the caller's
        next commit, a worker's, which commits the intents of its next chunk straight after:
        one commit fewer per call, and a crash in between leaves what a crash between the call
        and its own commit would (an intent without its outcome; the devices sent again)."""
        try:
            result = await call()
        except GraphError as error:
            if intent.rollout_id is not None:
                error.context.setdefault("rolloutId", str(intent.rollout_id))
            if intent.operation_id is not None:
                error.context.setdefault("operationId", str(intent.operation_id))
            self._close(intent, "failed", error.request_ids, graph_error_detail(error))
            await self.uow.commit()
            raise
        self._close(intent, "succeeded", result.request_ids, None)
        return result
