"""Listing the devices the service holds: enrolled by it, in no active rollout of the category."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.devices.managed import held_condition
from app.devices.models import ManagedDevice
from app.devices.schemas import HeldDeviceOut, RolloutRef
from app.pagination import decode_cursor, encode_cursor
from app.rollouts.models import Rollout


def _out(row: Any) -> HeldDeviceOut:
    return HeldDeviceOut(
        deviceId=row.device_id,
        category=row.category,
        enrolledAt=row.enrolled_at,
        lastRollout=RolloutRef(rolloutId=str(row.rollout_id), name=row.name)
        if row.rollout_id is not None
        else None,
        heldSince=row.held_since,
    )


async def list_held(
    session: AsyncSession, category: str, *, limit: int, cursor: str | None
) -> tuple[list[HeldDeviceOut], str | None]:
    """A page of held devices of the category, by device id."""
    query = (
        select(
            ManagedDevice.device_id,
            ManagedDevice.category,
            ManagedDevice.enrolled_at,
            Rollout.id.label("rollout_id"),
            Rollout.name,
            func.coalesce(ManagedDevice.left_at, Rollout.ended_at).label("held_since"),
        )
        .outerjoin(Rollout, Rollout.id == ManagedDevice.last_rollout_id)
        .where(held_condition(category))
        .order_by(ManagedDevice.device_id)
        .limit(limit + 1)
    )
    if cursor is not None:
        after = str(decode_cursor(cursor, keys=frozenset({"d"}))["d"])
        query = query.where(ManagedDevice.device_id > after)
    rows = list((await session.execute(query)).all())
    page = [_out(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor({"d": page[-1].deviceId})
