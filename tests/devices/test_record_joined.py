"""Confirming an operation's members records which rollout last had each device, and writes
only the devices whose record changes: a create-and-add's enrollment already recorded its
rollout, and an UPDATE to the same values would write a new version of every row again."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_engine
from app.devices.managed import record_joined
from app.unit_of_work import UnitOfWork

ROWS = text(
    "SELECT device_id, xmin::text, last_rollout_id, left_at IS NULL FROM managed_devices"
    " ORDER BY device_id"
)


async def test_only_devices_whose_record_changes_are_written(clean_database: str) -> None:
    engine = create_engine(clean_database)
    rollout = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO rollouts (id, status, name, update_kind, catalog_entry_id,"
                    " settings, created_by) VALUES (:id, 'active', 'r', 'feature', 'c', '{}', 't')"
                ),
                {"id": rollout},
            )
            await connection.execute(
                text(
                    "INSERT INTO managed_devices (device_id, category, status, last_rollout_id,"
                    " left_at) VALUES"
                    " ('a-joined', 'feature', 'enrolled', :rollout, NULL),"
                    " ('b-had-left', 'feature', 'enrolled', :rollout, now()),"
                    " ('c-elsewhere', 'feature', 'enrolled', NULL, NULL),"
                    " ('d-other-category', 'quality', 'enrolled', NULL, NULL)"
                ),
                {"rollout": rollout},
            )
        async with engine.connect() as connection:
            before = {row[0]: row[1] for row in await connection.execute(ROWS)}

        async with AsyncSession(engine) as session:
            uow = UnitOfWork(session)
            await record_joined(
                uow,
                rollout_id=rollout,
                category="feature",
                device_ids=["a-joined", "b-had-left", "c-elsewhere", "d-other-category"],
            )
            await uow.commit()

        async with engine.connect() as connection:
            after = {row[0]: row[1:] for row in await connection.execute(ROWS)}
        assert after == {
            "a-joined": (before["a-joined"], rollout, True),
            "b-had-left": (after["b-had-left"][0], rollout, True),
            "c-elsewhere": (after["c-elsewhere"][0], rollout, True),
            "d-other-category": (before["d-other-category"], None, True),
        }
        assert after["b-had-left"][0] != before["b-had-left"]
        assert after["c-elsewhere"][0] != before["c-elsewhere"]
    finally:
        await engine.dispose()
