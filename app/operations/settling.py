"""Settling `sent` items from a reading of Graph: item outcomes, the audience mirror, and the
record of managed devices, each written with a handful of set-based statements."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert

from app.audience.models import AudienceDevice
from app.db import string_array
from app.devices.managed import (
    record_joined,
    record_left,
    record_released,
    remove_from_audience,
)
from app.operations import item_store
from app.operations.confirmation import PENDING, GraphView, Verdict, final_verdict, verdict
from app.operations.item_store import Item
from app.operations.models import Operation
from app.unit_of_work import UnitOfWork

MEMBERSHIP = {
    "addMember": "member",
    "removeMember": "member",
    "addExclusion": "excluded",
    "removeExclusion": "excluded",
}
ADDS = ("addMember", "addExclusion")


def _shown(item: Item, outcome: Verdict, view: GraphView | None) -> bool:
    """Graph lists the device where the item put it (or no longer where it removed it)."""
    if view is None:
        return False
    if item.change == "addMember":
        return item.device_id in (view.members or {})
    return outcome.status == "succeeded"


async def settle(
    uow: UnitOfWork,
    operation: Operation,
    items: Sequence[Item],
    view: GraphView | None,
    *,
    final: bool,
    waited_seconds: float,
    now: datetime,
) -> list[Item]:
    """Give each sent item the outcome `view` shows (with `final`, also those it does not show
    yet) and mirror what Graph shows. Returns the items still waiting."""
    waiting: list[Item] = []
    outcomes: dict[Verdict, list[Item]] = defaultdict(list)
    shown: dict[str, list[str]] = {change: [] for change in (*MEMBERSHIP, "unenroll")}
    for item in items:
        found = (
            verdict(item.change, item.device_id, view, operation.update_category)
            if view is not None
            else PENDING
        )
        if found.status is None:
            if not final:
                waiting.append(item)
                continue
            found = final_verdict(item.change, item.device_id, view, waited_seconds)
        outcomes[found].append(item)
        if _shown(item, found, view):
            shown[item.change].append(item.device_id)
    for outcome, settled in outcomes.items():
        fields = (
            {"error_code": outcome.code, "error_message": outcome.message}
            if outcome.status == "failed"
            else {"warning_code": outcome.code, "warning_message": outcome.message}
        )
        await item_store.mark(
            uow.session,
            operation.id,
            settled,
            outcome.status or "failed",
            only_from=("sent",),
            **fields,
        )
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
            device = func.unnest(string_array(ids)).column_valued("device_id")
            rows = select(
                literal(rollout_id, AudienceDevice.rollout_id.type),
                literal(membership, AudienceDevice.membership.type),
                device,
                literal(operation_id, AudienceDevice.operation_id.type),
                literal(now, AudienceDevice.confirmed_at.type),
            )
            statement = insert(AudienceDevice).from_select(
                ["rollout_id", "membership", "device_id", "operation_id", "confirmed_at"], rows
            )
            await uow.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["rollout_id", "membership", "device_id"],
                    set_={"operation_id": operation_id, "confirmed_at": now},
                )
            )
        else:
            await remove_from_audience(uow, rollout_id, membership, ids)
