"""Writes audit events, and wraps every Graph write in intent → call → outcome."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

from app.audit import writing
from app.audit.models import AuditEvent
from app.change_context import ChangeContext
from app.graph.errors import GraphError
from app.graph.results import GraphResult
from app.observability.audit_metrics import AUDIT_EVENTS
from app.problems import DatabaseUnavailable, ProblemError
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

    async def graph_write(
        self,
        *,
        action: str,
        call: Callable[[], Awaitable[GraphResult[T]]],
        rollout_id: uuid.UUID | None = None,
        operation_id: uuid.UUID | None = None,
        device_ids: Sequence[str] = (),
        detail: dict[str, Any] | None = None,
        on_success: Callable[[T], Awaitable[dict[str, Any] | None]] | None = None,
        on_failure: Callable[[GraphError], Awaitable[None]] | None = None,
        success_with_next_commit: bool = False,
    ) -> GraphResult[T]:
        """Record the intent (committed), call Graph, record the outcome (committed).

        If the intent cannot be committed, Graph is not called. A Graph failure is recorded as
        `failed` with Graph's code and request ids, then re-raised for the API to report.
        `on_success` updates our own rows in the same commit as the `succeeded` event and may
        return extra detail for it. With `success_with_next_commit`, the `succeeded` event is
        left to the caller's next commit (a worker's, which commits the intent of its next Graph
        write straight after): one commit fewer, and a crash in between leaves what a crash
        between the call and its own commit would.
        """
        intent = self.record(
            action=action,
            outcome="requested",
            rollout_id=rollout_id,
            operation_id=operation_id,
            device_ids=device_ids,
            detail=detail,
        )
        await self.uow.commit()
        try:
            result = await call()
        except GraphError as error:
            if rollout_id is not None:
                error.context.setdefault("rolloutId", str(rollout_id))
            if operation_id is not None:
                error.context.setdefault("operationId", str(operation_id))
            if on_failure is not None:
                await on_failure(error)
            self._close(intent, "failed", error.request_ids, graph_error_detail(error))
            await self.uow.commit()
            raise
        extra = await on_success(result.value) if on_success is not None else None
        self._close(intent, "succeeded", result.request_ids, extra)
        if success_with_next_commit:
            return result
        try:
            await self.uow.commit()
        except (DatabaseUnavailable, DBAPIError) as exc:
            # Graph has made the change: whatever kept the database from recording it, the
            # caller must hear that the outcome is unrecorded (reconciliation settles it).
            raise OutcomeNotRecorded(
                f"Graph accepted {action} (request ids {', '.join(result.request_ids)}) but the"
                " outcome could not be recorded; the service reconciles it from Graph.",
                rolloutId=str(rollout_id) if rollout_id else None,
                graphRequestId=result.request_ids[-1] if result.request_ids else None,
            ) from exc
        return result
