"""Settling `sent` items from a reading of Graph: item outcomes, the audience mirror, and the
record of managed devices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from app.audience.models import AudienceDevice
from app.devices.managed import record_joined, record_left, record_released
from app.operations.confirmation import PENDING, GraphView, final_verdict, verdict
from app.operations.models import Operation, OperationItem
from app.unit_of_work import UnitOfWork

MEMBERSHIP = {
    "addMember": "member",
    "removeMember": "member",
    "addExclusion": "excluded",
    "removeExclusion": "excluded",
}
ADDS = ("addMember", "addExclusion")


def _shown(item: OperationItem, view: GraphView | None) -> bool:
    """Graph lists the device where the item put it (or no longer where it removed it)."""
    if view is None:
        return False
    if item.change == "addMember":
        return item.device_id in (view.members or {})
    return item.status == "succeeded"


async def settle(
    uow: UnitOfWork,
    operation: Operation,
    items: Sequence[OperationItem],
    view: GraphView | None,
    *,
    final: bool,
    waited_seconds: float,
    now: datetime,
) -> int:
    """Give each `sent` item the outcome `view` shows (with `final`, also those it does not
    show yet); mirror what Graph shows. Returns how many items are still waiting."""
    waiting = 0
    shown: dict[str, list[str]] = {change: [] for change in (*MEMBERSHIP, "unenroll")}
    for item in items:
        if item.status != "sent":
            continue
        found = (
            verdict(item.change, item.device_id, view, operation.update_category)
            if view is not None
            else PENDING
        )
        if found.status is None:
            if not final:
                waiting += 1
                continue
            found = final_verdict(item.change, item.device_id, view, waited_seconds)
        item.status = found.status or "failed"
        if item.status == "failed":
            item.error_code, item.error_message = found.code, found.message
        else:
            item.warning_code, item.warning_message = found.code, found.message
        if _shown(item, view):
            shown[item.change].append(item.device_id)
    if operation.rollout_id is not None:
        await _mirror(uow, operation.rollout_id, operation.id, shown, now)
        await _managed(uow, operation, shown, now)
    if shown["unenroll"]:
        await record_released(
            uow, category=operation.update_category, device_ids=shown["unenroll"], now=now
        )
    return waiting


async def _managed(
    uow: UnitOfWork, operation: Operation, shown: dict[str, list[str]], now: datetime
) -> None:
    """Keep the record of which rollout last had each enrolled device."""
    assert operation.rollout_id is not None
    if operation.update_category == "none":
        return
    await record_joined(
        uow,
        rollout_id=operation.rollout_id,
        category=operation.update_category,
        device_ids=shown["addMember"],
    )
    await record_left(
        uow, rollout_id=operation.rollout_id, device_ids=shown["removeMember"], now=now
    )


async def _mirror(
    uow: UnitOfWork,
    rollout_id: uuid.UUID,
    operation_id: uuid.UUID,
    shown: dict[str, list[str]],
    now: datetime,
) -> None:
    """Mirror what Graph shows into audience_devices (one statement per kind of change)."""
    for change, membership in MEMBERSHIP.items():
        ids = shown[change]
        if not ids:
            continue
        if change in ADDS:
            statement = insert(AudienceDevice).values(
                [
                    {
                        "rollout_id": rollout_id,
                        "membership": membership,
                        "device_id": device_id,
                        "operation_id": operation_id,
                        "confirmed_at": now,
                    }
                    for device_id in ids
                ]
            )
            await uow.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["rollout_id", "membership", "device_id"],
                    set_={"operation_id": operation_id, "confirmed_at": now},
                )
            )
        else:
            await uow.session.execute(
                delete(AudienceDevice).where(
                    AudienceDevice.rollout_id == rollout_id,
                    AudienceDevice.membership == membership,
                    AudienceDevice.device_id.in_(ids),
                )
            )
