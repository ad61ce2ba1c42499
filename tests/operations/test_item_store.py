"""The per-device item store on real PostgreSQL: a batch's UPDATE reads the batch, not the
operation (what keeps 100,000 devices linear). Without its seq range, PostgreSQL 15 (CI's
server) read every pending item of the operation per batch; 18 (the embedded one) did not."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_engine
from app.operations.item_store import Item, load, mark, mark_statement
from app.operations.models import Operation

ITEMS = 3_000
BATCH = range(1_000, 1_200)


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan that reads a table or an index."""
    if "Scan" in plan["Node Type"]:
        yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)


async def test_marking_a_batch_reads_only_that_batch_of_a_large_operation(
    clean_database: str,
) -> None:
    """Items inserted moments ago, as an operation's are: the table's statistics predate them."""
    engine = create_engine(clean_database)
    try:
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

        statement = mark_statement(operation_id, list(BATCH), "sent", ("pending",), {}).compile(
            dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        async with engine.connect() as connection:
            explained = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + str(statement), statement.params
            )
            found = explained.scalar_one()
            plan = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
            await connection.rollback()

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
