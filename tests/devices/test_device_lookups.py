"""Settling a batch of 1,000 devices looks each one up by the primary key of managed_devices,
whatever the size of the fleet. With `device_id = ANY(ids)`, PostgreSQL 15 (CI's server) read
the whole table for every batch while it held fewer than about 150,000 devices (8 ms at 81,000
rows, where the lookups take 2.5 ms), so each settled batch cost more as the fleet grew;
PostgreSQL 18 (the embedded server) used the index for that statement too."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db import create_engine
from app.devices.managed import (
    in_active_rollouts,
    record_joined,
    record_left,
    record_released,
    remove_from_audience,
)
from app.unit_of_work import UnitOfWork
from tests.plans import scans

FLEET = 40_000
BATCH = 1_000

INSERT_FLEET = text(
    "INSERT INTO managed_devices (device_id, category, status, last_rollout_id, left_at)"
    " SELECT 'device-' || n, 'quality', 'enrolled', :rollout, NULL"
    " FROM generate_series(1, :fleet) AS n"
)
ROLLOUT = text(
    "INSERT INTO rollouts (id, status, name, update_kind, catalog_entry_id, settings,"
    " created_by) VALUES (:id, 'active', 'r', 'quality', 'c', '{}', 't')"
)


def rows_read(plan: dict[str, Any], relation: str) -> int:
    """How many rows the plan's scans of `relation` read, kept or dropped by a filter."""
    return sum(
        (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        for node in scans(plan)
        if node.get("Relation Name") == relation
    )


async def fleet_of(connection: AsyncConnection, size: int) -> tuple[uuid.UUID, uuid.UUID]:
    """Two rollouts of quality updates, and `size` devices that the first one last had."""
    first, second = uuid.uuid4(), uuid.uuid4()
    for rollout in (first, second):
        await connection.execute(ROLLOUT, {"id": rollout})
    await connection.execute(INSERT_FLEET, {"rollout": first, "fleet": size})
    return first, second


async def explain_each(session: AsyncSession, prefix: str, plans: list[dict[str, Any]]) -> None:
    """Add to `plans` the plan of each statement of the session that starts with `prefix`, run
    (and undone) just before the statement itself."""
    connection = await session.connection()

    @event.listens_for(connection.sync_connection, "before_cursor_execute")
    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith(prefix):
            cursor.execute("SAVEPOINT explained")
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            found = cursor.fetchone()[0]
            cursor.execute("ROLLBACK TO SAVEPOINT explained")
            plans.append((json.loads(found) if isinstance(found, str) else found)[0])


async def test_a_batch_reads_its_own_devices_not_the_fleet(clean_database: str) -> None:
    engine = create_engine(clean_database)
    try:
        async with engine.begin() as connection:
            first, second = await fleet_of(connection, FLEET)
            await connection.execute(text("ANALYZE managed_devices"))
        batch = [f"device-{n}" for n in range(1, FLEET + 1, FLEET // BATCH)]
        assert len(batch) == BATCH

        plans: list[dict[str, Any]] = []
        async with AsyncSession(engine) as session:
            await explain_each(session, "UPDATE managed_devices", plans)
            uow = UnitOfWork(session)
            # Already the rollout that last had them: nothing to write, each device still read.
            await record_joined(uow, rollout_id=first, category="quality", device_ids=batch)
            # Joined another rollout: the batch moves, the rest of the fleet does not.
            await record_joined(uow, rollout_id=second, category="quality", device_ids=batch)
            await uow.commit()

        assert len(plans) == 2
        assert [plan["Plan"]["Plans"][0]["Actual Rows"] for plan in plans] == [0, BATCH]
        for plan in plans:
            print(
                [
                    (
                        n["Node Type"],
                        n.get("Relation Name"),
                        n["Actual Rows"],
                        n["Actual Loops"],
                        n.get("Rows Removed by Filter"),
                    )
                    for n in scans(plan["Plan"])
                ]
            )
            read = rows_read(plan["Plan"], "managed_devices")
            assert 0 < read <= 2 * BATCH, plan
            assert not any(node["Node Type"] == "Seq Scan" for node in scans(plan["Plan"])), plan

        async with engine.connect() as connection:
            moved = await connection.execute(
                text("SELECT last_rollout_id, count(*) FROM managed_devices GROUP BY 1")
            )
            assert dict(moved.all()) == {first: FLEET - BATCH, second: BATCH}
    finally:
        await engine.dispose()


async def test_leaving_marks_only_the_devices_the_rollout_last_had(clean_database: str) -> None:
    engine = create_engine(clean_database)
    try:
        async with engine.begin() as connection:
            first, second = await fleet_of(connection, 4)
            await connection.execute(
                text(
                    "UPDATE managed_devices SET last_rollout_id = :second"
                    " WHERE device_id = 'device-4'"
                ),
                {"second": second},
            )
            await connection.execute(
                text(
                    "INSERT INTO managed_devices (device_id, category, status, last_rollout_id)"
                    " VALUES ('device-1', 'feature', 'enrolled', :first)"
                ),
                {"first": first},
            )
        async with AsyncSession(engine) as session:
            uow = UnitOfWork(session)
            await record_left(
                uow,
                rollout_id=first,
                device_ids=["device-1", "device-3", "device-4", "unknown"],
                now=await session.scalar(text("SELECT now()")),
            )
            await uow.commit()
        async with engine.connect() as connection:
            left = await connection.execute(
                text(
                    "SELECT device_id || '/' || category FROM managed_devices"
                    " WHERE left_at IS NOT NULL ORDER BY 1"
                )
            )
            # Both categories of device-1; not device-2 (not named), device-4 (another rollout).
            assert left.scalars().all() == [
                "device-1/feature",
                "device-1/quality",
                "device-3/quality",
            ]
    finally:
        await engine.dispose()


async def test_releasing_a_chunk_reads_its_own_devices_not_every_audience(
    clean_database: str,
) -> None:
    """A release checks each device of its chunk for an active rollout, then takes the released
    devices out of the category's audiences: both by device, however large the audiences."""
    engine = create_engine(clean_database)
    try:
        async with engine.begin() as connection:
            await fleet_of(connection, FLEET)
            await connection.execute(
                text(
                    "INSERT INTO audience_devices (rollout_id, membership, device_id)"
                    " SELECT last_rollout_id, 'member', device_id FROM managed_devices"
                )
            )
            await connection.execute(text("ANALYZE"))
        chunk = [f"device-{n}" for n in range(1, FLEET + 1, FLEET // 200)] + ["device-none"]

        plans: list[dict[str, Any]] = []
        async with AsyncSession(engine) as session:
            await explain_each(session, "SELECT wanted.device_id", plans)
            await explain_each(session, "DELETE FROM audience_devices", plans)
            uow = UnitOfWork(session)
            busy = await in_active_rollouts(uow, "quality", chunk)
            now = await session.scalar(text("SELECT now()"))
            await record_released(uow, category="quality", device_ids=chunk[:100], now=now)
            await uow.commit()

        assert busy == sorted(chunk[:-1])
        assert len(plans) == 2
        for plan in plans:
            read = rows_read(plan["Plan"], "audience_devices")
            assert 0 < read <= 2 * len(chunk), plan
        async with engine.connect() as connection:
            left = await connection.scalar(text("SELECT count(*) FROM audience_devices"))
            released = await connection.scalar(
                text("SELECT count(*) FROM managed_devices WHERE status = 'released'")
            )
        assert (left, released) == (FLEET - 100, 100)
    finally:
        await engine.dispose()


async def test_a_batch_of_removals_reads_its_own_devices_not_the_audience(
    clean_database: str,
) -> None:
    """Settling removed members deletes them from the audience mirror by device: with
    `device_id = ANY(ids)`, PostgreSQL 15 read the rollout's whole audience for each batch."""
    engine = create_engine(clean_database)
    try:
        async with engine.begin() as connection:
            first, _ = await fleet_of(connection, FLEET)
            await connection.execute(
                text(
                    "INSERT INTO audience_devices (rollout_id, membership, device_id)"
                    " SELECT last_rollout_id, membership, device_id FROM managed_devices,"
                    " (VALUES ('member'), ('excluded')) AS kinds (membership)"
                )
            )
            await connection.execute(text("ANALYZE"))
        batch = [f"device-{n}" for n in range(1, FLEET + 1, FLEET // BATCH)]

        plans: list[dict[str, Any]] = []
        async with AsyncSession(engine) as session:
            await explain_each(session, "DELETE FROM audience_devices", plans)
            await remove_from_audience(UnitOfWork(session), first, "member", batch)
            await session.commit()

        (plan,) = plans
        assert 0 < rows_read(plan["Plan"], "audience_devices") <= 2 * BATCH, plan
        async with engine.connect() as connection:
            left = await connection.execute(
                text("SELECT membership, count(*) FROM audience_devices GROUP BY 1")
            )
            assert dict(left.all()) == {"member": FLEET - BATCH, "excluded": FLEET}
    finally:
        await engine.dispose()
