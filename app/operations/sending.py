"""Sending one chunk of an operation to Graph: enroll members then change the audience, or
unenroll (release). Each call is audited with its devices; accepted items become `sent`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.audit.recorder import AuditRecorder
from app.devices.managed import in_active_rollouts, record_enrolled
from app.graph.client import GraphClient
from app.graph.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
)
from app.graph.specs import AudienceChange
from app.operations.models import Operation, OperationItem
from app.rollouts.models import Rollout

# After these, later chunks would fail the same way: stop and report them as not attempted.
STOPPING_ERRORS = (
    GraphAuthError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
)
AUDIENCE_FIELDS = (
    ("addMember", "add_members"),
    ("removeMember", "remove_members"),
    ("addExclusion", "add_exclusions"),
    ("removeExclusion", "remove_exclusions"),
)


def fail(items: Sequence[OperationItem], code: str, message: str) -> None:
    """Mark the items not yet sent as failed with `code`."""
    for item in items:
        if item.status == "pending":
            item.status = "failed"
            item.error_code = code[:128]
            item.error_message = message


def not_attempted(error: GraphError) -> str:
    """The message of items skipped after a call that later calls would repeat."""
    return f"not sent: an earlier call failed with {error.code}"


def _sent(items: Sequence[OperationItem], request_ids: Sequence[str]) -> None:
    request_id = request_ids[-1] if request_ids else None
    for item in items:
        item.status = "sent"
        item.graph_request_id = request_id


def _stop(error: GraphError, rest: Sequence[OperationItem]) -> GraphError | None:
    """Fail the rest as not attempted when `error` would stop later calls too."""
    if isinstance(error, STOPPING_ERRORS):
        fail(rest, "notAttempted", not_attempted(error))
        return error
    return None


async def send_audience_chunk(
    graph: GraphClient,
    audience: AuditRecorder,
    operation: Operation,
    rollout: Rollout,
    items: list[OperationItem],
    now: datetime,
) -> GraphError | None:
    """Enroll the chunk's new members (never its exclusions: enrolling a device takes it out of
    Windows Update's normal offers, so an enrolled exclusion would be frozen), then send the
    audience change. Returns the error that should stop the operation, if any."""
    members = [i for i in items if i.change == "addMember"]
    category = operation.update_category
    if members and category != "none":
        ids = [i.device_id for i in members]
        try:
            await audience.graph_write(
                action="devices.enroll",
                rollout_id=rollout.id,
                operation_id=operation.id,
                device_ids=ids,
                detail={"updateCategory": category},
                call=lambda: graph.enroll_assets_chunk(category, ids),  # type: ignore[arg-type]
            )
        except GraphError as error:
            fail(members, error.code, error.message)
            items = [i for i in items if i.change != "addMember"]
            stopped = _stop(error, items)
            if stopped is not None:
                return stopped
        else:
            await record_enrolled(
                audience.uow,
                category=category,
                device_ids=ids,
                operation_id=operation.id,
                rollout_id=rollout.id,
                now=now,
            )
    if not items:
        return None
    change = AudienceChange(
        **{
            attribute: tuple(i.device_id for i in items if i.change == name)
            for name, attribute in AUDIENCE_FIELDS
        }
    )
    deployment_id = rollout.graph_deployment_id
    assert deployment_id is not None
    try:
        result = await audience.graph_write(
            action="graph.updateAudience",
            rollout_id=rollout.id,
            operation_id=operation.id,
            device_ids=[i.device_id for i in items],
            detail={name: sum(1 for i in items if i.change == name) for name, _ in AUDIENCE_FIELDS},
            call=lambda: graph.update_audience_chunk(deployment_id, change),
        )
    except GraphError as error:
        fail(items, error.code, error.message)
        return error if isinstance(error, STOPPING_ERRORS) else None
    _sent(items, result.request_ids)
    return None


async def send_release_chunk(
    graph: GraphClient,
    audit: AuditRecorder,
    operation: Operation,
    items: list[OperationItem],
) -> GraphError | None:
    """Unenroll the chunk's devices, except those that joined an active rollout of the category
    since the release was asked for (they would be frozen out of it)."""
    category = operation.update_category
    busy = set(await in_active_rollouts(audit.uow, category, [i.device_id for i in items]))
    fail(
        [i for i in items if i.device_id in busy],
        "deviceInActiveRollout",
        f"not released: the device is now a member of an active {category} rollout",
    )
    items = [i for i in items if i.device_id not in busy]
    if not items:
        return None
    ids = [i.device_id for i in items]
    try:
        result = await audit.graph_write(
            action="devices.unenroll",
            rollout_id=operation.rollout_id,
            operation_id=operation.id,
            device_ids=ids,
            detail={"updateCategory": category},
            call=lambda: graph.unenroll_assets_chunk(category, ids),  # type: ignore[arg-type]
        )
    except GraphError as error:
        fail(items, error.code, error.message)
        return error if isinstance(error, STOPPING_ERRORS) else None
    _sent(items, result.request_ids)
    return None
