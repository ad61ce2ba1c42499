"""Audience use cases: accept a change as an operation, list the confirmed audience."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.audience.models import AudienceDevice
from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.devices.managed import effective_member
from app.operations.items import add_operation
from app.operations.models import Operation
from app.pagination import decode_cursor, encode_cursor
from app.problems import FieldError, ValidationFailed
from app.rollouts.models import Rollout
from app.unit_of_work import UnitOfWork

# The order in which an operation applies the four lists.
CHANGE_LISTS = ("addMember", "removeMember", "addExclusion", "removeExclusion")


def enrollment_category(rollout: Rollout) -> str:
    """The update category devices are enrolled in before joining; "none" for expedited."""
    if rollout.update_kind == "quality" and rollout.settings.get("update", {}).get("expedite"):
        return "none"  # expedited quality updates need no enrollment (graph.md)
    return rollout.update_kind


def _check_contradictions(changes: dict[str, Sequence[str]]) -> None:
    errors = []
    for add, remove, add_field, remove_field in (
        ("addMember", "removeMember", "addDevices", "removeDevices"),
        ("addExclusion", "removeExclusion", "addExclusions", "removeExclusions"),
    ):
        both = sorted(set(changes[add]) & set(changes[remove]))
        if both:
            errors.append(
                FieldError(
                    field=remove_field,
                    message=f"also in {add_field}: {', '.join(both[:20])}"
                    + (f" and {len(both) - 20} more" if len(both) > 20 else ""),
                )
            )
    if errors:
        raise ValidationFailed("A device cannot be both added and removed.", errors=errors)


def _dedupe(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def accept_audience_change(
    uow: UnitOfWork,
    context: ChangeContext,
    rollout: Rollout,
    changes: dict[str, Sequence[str]],
) -> Operation:
    """Record an audience operation and its per-device items (queued), with its audit intent.

    `changes` maps each of CHANGE_LISTS to device ids. Nothing is sent to Graph here: the
    operation runner applies the items in chunks once this unit of work has committed.
    """
    changes = {name: _dedupe(changes.get(name, ())) for name in CHANGE_LISTS}
    _check_contradictions(changes)
    ordered = [(change, device_id) for change in CHANGE_LISTS for device_id in changes[change]]
    operation = await add_operation(
        uow,
        context,
        kind="audience.update",
        rollout_id=rollout.id,
        category=enrollment_category(rollout),
        changes=ordered,
        detail={name: len(ids) for name, ids in changes.items()},
    )
    AuditRecorder(uow, context).record(
        action="audience.update",
        outcome="requested",
        rollout_id=rollout.id,
        operation_id=operation.id,
        device_ids=[device_id for _, device_id in ordered],
        detail={"operationId": str(operation.id), **operation.detail},
    )
    return operation


async def list_devices(
    session: AsyncSession,
    rollout_id: uuid.UUID,
    *,
    membership: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AudienceDevice], str | None]:
    """The rollout's confirmed audience, ordered by (membership, device id); a device that is
    both a member and an exclusion is listed once, as excluded (Graph's rule)."""
    query = select(AudienceDevice).where(
        AudienceDevice.rollout_id == rollout_id,
        or_(AudienceDevice.membership == "excluded", effective_member(AudienceDevice)),
    )
    if membership is not None:
        query = query.where(AudienceDevice.membership == membership)
    if cursor is not None:
        position = decode_cursor(cursor, keys=frozenset({"m", "d"}))
        query = query.where(
            tuple_(AudienceDevice.membership, AudienceDevice.device_id)
            > tuple_(literal(str(position["m"])), literal(str(position["d"])))
        )
    query = query.order_by(AudienceDevice.membership, AudienceDevice.device_id).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor({"m": last.membership, "d": last.device_id})
