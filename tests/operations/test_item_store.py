"""The per-device item store on real PostgreSQL: a batch's UPDATE reads the batch, not the
operation (what keeps 100,000 devices linear). Without its seq range, PostgreSQL 15 (CI's
server) read every pending item of the operation per batch; 18 (the embedded one) did not."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Executable, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import create_engine
from app.operations.item_store import Item, load, mark, mark_statement
from app.operations.models import Operation, OperationItem
from tests.plans import scans

ITEMS = 3_000
BATCH = range(1_000, 1_200)


async def operation_with_items(engine: AsyncEngine) -> uuid.UUID:
    """A new operation of ITEMS pending items, inserted after the table's statistics were taken
    (as an operation's items always are)."""
    operation_id = uuid.uuid4()
    async with engine.connect() as connection:  # statistics from before the operation
        await connection.execute(text("ANALYZE operation_items"))
        await connection.commit()
    async with engine.begin() as connection:
        await connection.execute(
            Operation.__table__.insert().values(
                id=operation_id,
                kind="devices.release",
                actor="tester",
                update_category="quality",
                detail={},
            )
        )
        await connection.execute(
            text(
                "INSERT INTO operation_items (operation_id, seq, change, device_id, status)"
                " SELECT :operation, seq, 'unenroll', 'device-' || seq, 'pending'"
                " FROM generate_series(0, :last) AS seq"
            ),
            {"operation": operation_id, "last": ITEMS - 1},
        )
    return operation_id


async def explained(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The plan of `statement` as run with `parameters` (EXPLAIN ANALYZE, rolled back)."""
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=engine.dialect, compile_kwargs={"render_postcompile": parameters is None}
    )
    async with engine.connect() as connection:
        found = (
            await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled),
                compiled.construct_params(parameters),
            )
        ).scalar_one()
        await connection.rollback()
    plan: dict[str, Any] = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
    return plan


async def test_marking_a_batch_reads_only_that_batch_of_a_large_operation(
    clean_database: str,
) -> None:
    """Items inserted moments ago, as an operation's are: the table's statistics predate them."""
    engine = create_engine(clean_database)
    try:
        operation_id = await operation_with_items(engine)
        plan = await explained(
            engine, *mark_statement(operation_id, list(BATCH), "sent", ("pending",), {})
        )

        # What the UPDATE is fed (an index scan, or a bitmap heap scan over a bitmap index
        # scan: either way the rows found) is the batch, and no scan read rows to drop them.
        (source,) = plan["Plans"]
        assert source["Actual Rows"] == len(BATCH), plan
        assert all(node.get("Rows Removed by Filter", 0) == 0 for node in scans(plan)), plan

        # And the statement does what mark promises: the batch moves, nothing else does.
        async with engine.begin() as connection, AsyncSession(bind=connection) as session:
            batch = [Item(seq, "unenroll", f"device-{seq}") for seq in BATCH]
            await mark(session, operation_id, batch, "sent", only_from=("pending",))
            sent = await load(session, operation_id, "sent")
            pending = await load(session, operation_id, "pending")
        assert sent == batch
        assert len(pending) == ITEMS - len(BATCH)
    finally:
        await engine.dispose()


async def test_an_items_status_change_touches_no_index(clean_database: str) -> None:
    """No index holds the status and pages are half empty: marking a batch sent, as a chunk
    does, updates its rows in place of their page (heap-only tuples) instead of adding an entry
    to every index for every row. With the old (operation_id, status, seq) index, none was."""
    engine = create_engine(clean_database)
    try:
        operation_id = await operation_with_items(engine)
        batch = [Item(seq, "unenroll", f"device-{seq}") for seq in BATCH]
        async with engine.begin() as connection, AsyncSession(bind=connection) as session:
            await mark(session, operation_id, batch, "sent", graph_request_id=str(uuid.uuid4()))
            updated, heap_only = (
                await session.execute(
                    text(
                        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
                        " WHERE relname = 'operation_items'"
                    )
                )
            ).one()
            assert [item.seq for item in await load(session, operation_id, "sent")] == list(BATCH)
        assert updated == len(BATCH)
        assert heap_only >= 0.6 * len(BATCH), (updated, heap_only)
    finally:
        await engine.dispose()


async def test_the_failed_items_of_an_operation_are_read_from_their_own_index(
    clean_database: str,
) -> None:
    """GET /v1/operations/{id} lists the failed items on every poll: with none failed among
    3,000 it reads no item, and a failed item needs its error code (the index relies on it)."""
    engine = create_engine(clean_database)
    try:
        operation_id = await operation_with_items(engine)
        failed = (
            select(OperationItem)
            .where(
                OperationItem.operation_id == operation_id,
                OperationItem.status == "failed",
                OperationItem.error_code.is_not(None),
            )
            .order_by(OperationItem.seq)
        )
        plan = await explained(engine, failed)
        # An index scan, or a bitmap heap scan over a bitmap index scan (PostgreSQL 15): the
        # one index read is the failed items', and no node reads the table's rows.
        assert [n["Index Name"] for n in scans(plan) if "Index Name" in n] == [
            "ix_operation_items_failed"
        ], plan
        assert not any(node["Node Type"] == "Seq Scan" for node in scans(plan)), plan
        assert all(node["Actual Rows"] == 0 for node in scans(plan)), plan

        async with engine.begin() as connection, AsyncSession(bind=connection) as session:
            await mark(
                session,
                operation_id,
                [Item(7, "unenroll", "device-7")],
                "failed",
                error_code="notConfirmed",
                error_message="not shown",
            )
            listed = (await session.execute(failed)).scalars().all()
        assert [(item.seq, item.error_code) for item in listed] == [(7, "notConfirmed")]

        async with engine.connect() as connection:
            with pytest.raises(IntegrityError, match="ck_operation_items_failed_has_error"):
                await connection.execute(
                    text(
                        "UPDATE operation_items SET status = 'failed'"
                        " WHERE operation_id = :operation AND seq = 8"
                    ),
                    {"operation": operation_id},
                )
    finally:
        await engine.dispose()
