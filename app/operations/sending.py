"""Sending one chunk of an operation to Graph: enroll members then change the audience, or
unenroll (release). Each call is audited with its devices; accepted items become `sent`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from datetime import datetime

from app.audit.models import AuditEvent
from app.audit.recorder import AuditRecorder
from app.devices.managed import in_active_rollouts, record_enrolled
from app.graph.client import GraphClient
from app.graph.errors import GraphError, is_transient, stops_further_calls
from app.graph.results import GraphResult
from app.graph.specs import AudienceChange
from app.operations import item_store
from app.operations.item_store import Item
from app.operations.models import Operation
from app.rollouts.models import Rollout

AUDIENCE_FIELDS = (
    ("addMember", "add_members"),
    ("removeMember", "remove_members"),
    ("addExclusion", "add_exclusions"),
    ("removeExclusion", "remove_exclusions"),
)


def not_attempted(error: GraphError) -> str:
    """The message of items skipped after a call that later calls would repeat."""
    return f"not sent: an earlier call failed with {error.code}"


class ChunkSender:
    """Sends the chunks of one operation, each in its own unit of work; the caller commits
    the chunk's end (its last Graph call's outcome is left to that commit)."""

    def __init__(
        self,
        graph: GraphClient,
        *,
        operation_id: uuid.UUID,
        rollout_id: uuid.UUID | None,
        deployment_id: str | None,
        category: str,
        final: bool = True,
    ) -> None:
        self.graph = graph
        # Not final: a Graph outage leaves the chunk pending for the job's next attempt.
        self.final = final
        self.operation_id = operation_id
        self.rollout_id = rollout_id
        self.deployment_id = deployment_id
        self.category = category

    @classmethod
    def for_operation(
        cls, graph: GraphClient, operation: Operation, rollout: Rollout | None, final: bool = True
    ) -> ChunkSender:
        """The sender of `operation`'s chunks (of `rollout`'s deployment, if it has one)."""
        return cls(
            graph,
            operation_id=operation.id,
            rollout_id=operation.rollout_id,
            deployment_id=rollout.graph_deployment_id if rollout is not None else None,
            category=operation.update_category,
            final=final,
        )

    async def refused(
        self, audit: AuditRecorder, items: Sequence[Item], error: GraphError
    ) -> GraphError | None:
        """Graph failed the chunk: its items fail, unless Graph is only down or throttling and
        the operation will try again (they stay pending). Returns the error if it stops the
        calls after it."""
        if self.final or not is_transient(error):
            await self.fail(audit, items, error.code, error.message)
        return error if stops_further_calls(error) else None

    async def fail(
        self, audit: AuditRecorder, items: Sequence[Item], code: str, message: str
    ) -> None:
        """The items failed with `code` (only those not sent yet)."""
        await item_store.mark(
            audit.uow.session,
            self.operation_id,
            items,
            "failed",
            only_from=("pending",),
            error_code=code[:128],
            error_message=message,
        )

    async def _sent(
        self, audit: AuditRecorder, items: Sequence[Item], request_ids: Sequence[str]
    ) -> None:
        await item_store.mark(
            audit.uow.session,
            self.operation_id,
            items,
            "sent",
            only_from=("pending",),
            graph_request_id=request_ids[-1] if request_ids else None,
        )

    async def audience_chunk(
        self, audit: AuditRecorder, items: Sequence[Item], now: datetime
    ) -> GraphError | None:
        """Enroll the chunk's new members (never its exclusions: enrolling a device takes it out
        of Windows Update's normal offers, so an enrolled exclusion would be frozen), then send
        the audience change. Both intents are committed together before the first call, so a
        chunk costs one commit (its outcomes go in with the next chunk's intents). Returns the
        error that should stop the operation, if any."""
        members = [i for i in items if i.change == "addMember"]
        enroll_ids = [i.device_id for i in members]
        enrollment = (
            audit.intend(
                action="devices.enroll",
                rollout_id=self.rollout_id,
                operation_id=self.operation_id,
                device_ids=enroll_ids,
                detail={"updateCategory": self.category},
            )
            if members and self.category != "none"
            else None
        )
        change = self._audience_intent(audit, items)
        await audit.uow.commit()
        enrolled: list[str] = []
        if enrollment is not None:
            try:
                await audit.carry_out(
                    enrollment,
                    lambda: self.graph.enroll_assets_chunk(self.category, enroll_ids),  # type: ignore[arg-type]
                )
            except GraphError as error:
                stopped = await self.refused(audit, members, error)
                rest = [i for i in items if i.change != "addMember"]
                if stopped is not None:
                    audit.not_sent(change, not_attempted(error))
                    if self.final or not is_transient(error):
                        await self.fail(audit, rest, "notAttempted", not_attempted(error))
                    return stopped
                audit.not_sent(
                    change, f"not sent: the enrollment of its members failed with {error.code}"
                )
                if not rest:
                    return None
                items = rest  # the exclusions and removals still go out
                change = self._audience_intent(audit, items)
                await audit.uow.commit()
            else:
                enrolled = enroll_ids
        try:
            result = await audit.carry_out(change, lambda: self._send_audience_change(items))
        except GraphError as error:
            await self._record_enrolled(audit, enrolled, now)
            return await self.refused(audit, items, error)
        # Recorded after both calls, never between them: no transaction stays open across a
        # Graph call.
        await self._record_enrolled(audit, enrolled, now)
        await self._sent(audit, items, result.request_ids)
        return None

    def _audience_intent(self, audit: AuditRecorder, items: Sequence[Item]) -> AuditEvent:
        return audit.intend(
            action="graph.updateAudience",
            rollout_id=self.rollout_id,
            operation_id=self.operation_id,
            device_ids=[i.device_id for i in items],
            detail={name: sum(1 for i in items if i.change == name) for name, _ in AUDIENCE_FIELDS},
        )

    def _send_audience_change(self, items: Sequence[Item]) -> Awaitable[GraphResult[None]]:
        change = AudienceChange(
            **{
                attribute: tuple(i.device_id for i in items if i.change == name)
                for name, attribute in AUDIENCE_FIELDS
            }
        )
        assert self.deployment_id is not None
        return self.graph.update_audience_chunk(self.deployment_id, change)

    async def _record_enrolled(
        self, audit: AuditRecorder, device_ids: list[str], now: datetime
    ) -> None:
        if device_ids:
            await record_enrolled(
                audit.uow,
                category=self.category,
                device_ids=device_ids,
                operation_id=self.operation_id,
                rollout_id=self.rollout_id,
                now=now,
            )

    async def release_chunk(self, audit: AuditRecorder, items: Sequence[Item]) -> GraphError | None:
        """Unenroll the chunk's devices, except those that joined an active rollout of the
        category since the release was asked for (they would be frozen out of it)."""
        busy = set(await in_active_rollouts(audit.uow, self.category, [i.device_id for i in items]))
        await self.fail(
            audit,
            [i for i in items if i.device_id in busy],
            "deviceInActiveRollout",
            f"not released: the device is now a member of an active {self.category} rollout",
        )
        items = [i for i in items if i.device_id not in busy]
        if not items:
            return None
        ids = [i.device_id for i in items]
        intent = audit.intend(
            action="devices.unenroll",
            rollout_id=self.rollout_id,
            operation_id=self.operation_id,
            device_ids=ids,
            detail={"updateCategory": self.category},
        )
        await audit.uow.commit()
        try:
            result = await audit.carry_out(
                intent,
                lambda: self.graph.unenroll_assets_chunk(self.category, ids),  # type: ignore[arg-type]
            )
        except GraphError as error:
            return await self.refused(audit, items, error)
        await self._sent(audit, items, result.request_ids)
        return None
