"""Changes held for approval: propose, read, approve (carry out), reject, expire."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from app.audit.recorder import AuditRecorder
from app.auth.problems import Forbidden
from app.auth.roles import Principal, Role
from app.change_context import ChangeContext
from app.pagination import newest_first
from app.problems import NotFound
from app.review.models import Change
from app.review.problems import ChangeDecided, ChangeExpired, ChangeNoLongerApplies, SelfApproval
from app.review.replay import Answer, carry_out
from app.unit_of_work import UnitOfWork

SERVICE = "autopatch-rollouts"
"""The actor of what the service does on its own (expiring a change)."""
STILL_PENDING = {
    "urn:problem:idempotency-key-in-flight",  # another approval is carrying it out right now
    "urn:problem:database-unavailable",
    "urn:problem:rate-limited",
    "urn:problem:internal",
}
"""Answers after which the approved change is neither done nor refused: approve it again."""
INTERRUPTED = "urn:problem:idempotency-key-interrupted"
"""An earlier carrying-out died after recording its work (the workers finish it): applied."""


class ChangeNotFound(NotFound):
    type = "urn:problem:change-not-found"
    title = "No such change"


async def get_or_404(session: AsyncSession, change_id: str, *, lock: bool = False) -> Change:
    """The change, or a 404 problem; `lock` holds its row until the transaction ends."""
    try:
        key = uuid.UUID(change_id)
    except ValueError:
        raise ChangeNotFound(f"No change has the id {change_id[:80]!r}.") from None
    query = select(Change).where(Change.id == key)
    if lock:
        query = query.with_for_update()
    change = (await session.execute(query)).scalar_one_or_none()
    if change is None:
        raise ChangeNotFound(f"No change has the id {change_id}.")
    return change


def _audit(uow: UnitOfWork, change: Change, actor: str, request_id: str | None) -> AuditRecorder:
    context = ChangeContext(
        actor=actor, ticket=change.ticket, reason=change.reason, request_id=request_id
    )
    return AuditRecorder(uow, context)


def _event_detail(change: Change, **extra: Any) -> dict[str, Any]:
    return {
        "changeId": str(change.id),
        "change": change.action,
        "requestedBy": change.requested_by,
        "devices": change.devices,
        **extra,
    }


async def propose(
    uow: UnitOfWork,
    *,
    action: str,
    rollout_id: uuid.UUID | None,
    request: dict[str, Any],
    plan: dict[str, Any],
    devices: int,
    requester: Principal,
    ticket: str | None,
    reason: str | None,
    request_id: str | None,
    expires_at: datetime,
) -> Change:
    """Record the held request, its plan and a `change.proposed` event (the caller commits)."""
    change = Change(
        id=uuid.uuid4(),
        status="pendingApproval",
        action=action,
        rollout_id=rollout_id,
        request=request,
        plan=plan,
        devices=devices,
        requested_by=requester.name,
        requester_role=(requester.role or Role.reader).name,
        requester_via=requester.via,
        ticket=ticket,
        reason=reason,
        request_id=request_id,
        expires_at=expires_at,
    )
    uow.session.add(change)
    _audit(uow, change, requester.name, request_id).record(
        action="change.proposed",
        outcome="succeeded",
        rollout_id=rollout_id,
        detail=_event_detail(change, expiresAt=expires_at.isoformat()),
    )
    await uow.session.flush()
    return change


async def list_page(
    session: AsyncSession, *, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Change], str | None]:
    """Newest first, keyset-paged on (created_at, id)."""
    query = select(Change)
    if status is not None:
        query = query.where(Change.status == status)
    return await newest_first(session, query, Change, limit, cursor)


def _expire(uow: UnitOfWork, change: Change, now: datetime) -> None:
    change.status = "expired"
    change.decided_at = now
    _audit(uow, change, SERVICE, None).record(
        action="change.expired",
        outcome="succeeded",
        rollout_id=change.rollout_id,
        detail=_event_detail(change, expiresAt=change.expires_at.isoformat()),
    )


async def expire_due(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Expire every change still pending past its `expiresAt` (the periodic sweep)."""
    async with sessionmaker() as session:
        uow = UnitOfWork(session)
        due = await session.execute(
            select(Change)
            .where(Change.status == "pendingApproval", Change.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
        changes = list(due.scalars())
        for change in changes:
            _expire(uow, change, now)
        await uow.commit()
        return len(changes)


async def _decide(uow: UnitOfWork, change_id: str, decider: Principal, now: datetime) -> Change:
    """The change, locked and still pending (else a problem); expired ones are recorded so."""
    change = await get_or_404(uow.session, change_id, lock=True)
    if change.status == "pendingApproval" and change.expires_at <= now:
        _expire(uow, change, now)
        await uow.commit()
        raise ChangeExpired(
            f"Change {change.id} expired at {change.expires_at.isoformat()}; ask again.",
            changeId=str(change.id),
        )
    if change.status == "expired":
        raise ChangeExpired(f"Change {change.id} expired.", changeId=str(change.id))
    if change.status not in ("pendingApproval",):
        raise ChangeDecided(
            f"Change {change.id} is {change.status}.", changeId=str(change.id), status=change.status
        )
    return change


async def reject(
    uow: UnitOfWork, change_id: str, decider: Principal, reason: str, now: datetime
) -> Change:
    """Reject a pending change: by an approver, or withdrawn by its requester."""
    change = await _decide(uow, change_id, decider, now)
    if decider.name != change.requested_by and (decider.role or 0) < Role.approver:
        raise Forbidden(
            f"Only an approver or admin, or {change.requested_by} who asked, may reject it.",
            requiredRole=Role.approver.name,
        )
    change.status = "rejected"
    change.decided_by = decider.name
    change.decided_at = now
    change.decision_reason = reason
    _audit(uow, change, decider.name, None).record(
        action="change.rejected",
        outcome="succeeded",
        rollout_id=change.rollout_id,
        detail=_event_detail(change, rejectedBy=decider.name, rejectionReason=reason),
    )
    await uow.commit()
    return change


class Approvals:
    """Approving a change: record the approval, carry the request out, keep its answer."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock

    async def approve(
        self, app: ASGIApp, change_id: str, approver: Principal, request_id: str | None
    ) -> tuple[Change, Answer]:
        """Approve and carry out; the change and the answer its request got. Approving an
        applied change again answers what it answered the first time."""
        async with self.sessionmaker() as session:
            uow = UnitOfWork(session)
            change = await get_or_404(session, change_id, lock=True)
            if change.status in ("applied", "failed") and change.result is not None:
                return change, _stored(change)
            if change.requested_by == approver.name:
                raise SelfApproval(
                    f"{approver.name} asked for change {change.id}: another approver or admin"
                    " must approve it.",
                    changeId=str(change.id),
                )
            if change.status != "approved":  # approved: carried out before, answer unknown
                change = await _decide(uow, change_id, approver, self.clock())
                change.status = "approved"
                change.decided_by = approver.name
                change.decided_at = self.clock()
                _audit(uow, change, approver.name, request_id).record(
                    action="change.approved",
                    outcome="succeeded",
                    rollout_id=change.rollout_id,
                    detail=_event_detail(change, approvedBy=approver.name),
                )
                await uow.commit()
            requester = self._requester(change, change.decided_by)
            request = dict(change.request)
        answer = await carry_out(
            app, request, requester, change_id=change_id, request_id=request_id
        )
        return await self._settle(change_id, answer, request_id), answer

    async def preview(
        self, app: ASGIApp, change_id: str, approver: Principal, request_id: str | None
    ) -> Answer:
        """What approving would do now: the checks of an approval, then the request as a dry
        run, carried out as its requester with `approver` named. Nothing is recorded."""
        async with self.sessionmaker() as session:
            change = await get_or_404(session, change_id)
            if change.requested_by == approver.name:
                raise SelfApproval(
                    f"{approver.name} asked for change {change.id}: another approver or admin"
                    " must approve it.",
                    changeId=str(change.id),
                )
            if change.status == "pendingApproval" and change.expires_at <= self.clock():
                raise ChangeExpired(f"Change {change.id} has expired.", changeId=str(change.id))
            if change.status not in ("pendingApproval", "approved"):
                raise ChangeDecided(
                    f"Change {change.id} is {change.status}.",
                    changeId=str(change.id),
                    status=change.status,
                )
            request = dict(change.request)
            request["query"] = {**(request.get("query") or {}), "dryRun": "true"}
            requester = self._requester(change, approver.name)
        return await carry_out(app, request, requester, change_id=None, request_id=request_id)

    @staticmethod
    def _requester(change: Change, approved_by: str | None) -> Principal:
        """The change's requester as the caller of its request, naming the approver."""
        return Principal(
            name=change.requested_by,
            role=Role[change.requester_role],
            via=change.requester_via,
            approved_by=approved_by,
            change_id=str(change.id),
        )

    async def _settle(self, change_id: str, answer: Answer, request_id: str | None) -> Change:
        """Keep the answer: applied (what the request answered, Graph's failures included),
        failed (refused: it no longer applies), or still approved (try again)."""
        body = answer.json()
        problem_type = body.get("type") if isinstance(body, dict) else None
        async with self.sessionmaker() as session:
            uow = UnitOfWork(session)
            change = await get_or_404(session, change_id, lock=True)
            if change.status != "approved" or problem_type in STILL_PENDING:
                return change
            refused = 400 <= answer.status < 500 and problem_type != INTERRUPTED
            change.status = "failed" if refused else "applied"
            change.result = {"status": answer.status, "body": body}
            if change.action == "create" and isinstance(body, dict) and not refused:
                change.rollout_id = _uuid(body.get("id")) or change.rollout_id
            _audit(uow, change, change.decided_by or SERVICE, request_id).record(
                action="change.applied" if not refused else "change.notApplied",
                outcome="failed" if refused or answer.status >= 500 else "succeeded",
                rollout_id=change.rollout_id,
                detail=_event_detail(
                    change, approvedBy=change.decided_by, status=answer.status, type=problem_type
                ),
            )
            await uow.commit()
            return change


def _stored(change: Change) -> Answer:
    """The answer kept with an applied change, to answer a repeated approval."""
    result = change.result or {}
    body = json.dumps(result.get("body")).encode() if result.get("body") is not None else b""
    return Answer(int(result.get("status", 200)), [], body)


def refusal(change: Change, answer: Answer) -> ChangeNoLongerApplies:
    """The 409 of an approved change the current state no longer allows."""
    body = answer.json()
    return ChangeNoLongerApplies(
        f"Change {change.id} was approved but no longer applies: "
        + (str(body.get("detail") or body.get("title")) if isinstance(body, dict) else "refused"),
        changeId=str(change.id),
        cause=body,
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
