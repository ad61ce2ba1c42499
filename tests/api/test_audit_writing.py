"""Audit events flushed on their own are written by one multi-row INSERT (app.audit.writing), in
the order they were recorded, and leave the session with their id and time; a flush that writes
other rows too is the ORM's; events recorded before a rollback are never written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.models import AuditEvent
from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.operations.models import Operation
from app.unit_of_work import UnitOfWork
from tests.api.helpers import device_ids

CONTEXT = ChangeContext(actor="writer-test", ticket="CHG7", reason="writing", request_id="w1")


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL of every statement `engine` runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def inserts_of_events(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS")]


async def test_events_flushed_alone_go_in_one_insert_in_the_order_recorded(app: FastAPI) -> None:
    state = app.state.services
    devices = device_ids(200)
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        audit = AuditRecorder(uow, CONTEXT)
        recorded = [
            audit.record(action=f"test.step{n}", outcome="requested", device_ids=devices[: n + 1])
            for n in range(3)
        ]
        with statements(state.engine) as seen:
            await session.flush()
        assert len(inserts_of_events(seen)) == 1
        ids = [e.id for e in recorded]
        assert ids == sorted(ids) and all(e.at is not None for e in recorded)
        assert not any(e in session for e in recorded)  # written: nothing left for the ORM
        closing = audit.record(action="test.step0", outcome="succeeded", intent=recorded[0])
        await uow.commit()

    async with state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.ticket == "CHG7").order_by(AuditEvent.id)
            )
        ).all()
    assert [(r.id, r.action, r.outcome) for r in rows] == [
        *[(e.id, e.action, "requested") for e in recorded],
        (closing.id, "test.step0", "succeeded"),
    ]
    assert [len(r.device_ids) for r in rows] == [1, 2, 3, 0]
    assert rows[-1].intent_id == recorded[0].id
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)  # chained in the same order
    assert all(r.seq is not None and r.hash for r in rows)


async def test_a_flush_with_other_rows_is_left_to_the_orm(app: FastAPI) -> None:
    state = app.state.services
    operation_id = uuid.uuid4()
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        session.add(
            Operation(id=operation_id, kind="devices.release", actor="t", update_category="feature")
        )
        recorded = AuditRecorder(uow, CONTEXT).record(
            action="test.mixed", outcome="requested", operation_id=operation_id
        )
        await session.flush()
        assert recorded in session and recorded.id is not None  # the ORM wrote it
        await uow.commit()
    async with state.sessionmaker() as session:
        found = await session.scalar(select(AuditEvent).where(AuditEvent.id == recorded.id))
        assert found is not None and found.operation_id == operation_id
        assert await session.get(Operation, operation_id) is not None


async def test_events_recorded_before_a_rollback_are_never_written(app: FastAPI) -> None:
    state = app.state.services
    async with state.sessionmaker() as session:
        uow = UnitOfWork(session)
        audit = AuditRecorder(uow, CONTEXT)
        audit.record(action="test.dropped", outcome="requested")
        await uow.rollback()
        kept = audit.record(action="test.kept", outcome="requested")
        await uow.commit()
    async with state.sessionmaker() as session:
        actions = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.ticket == "CHG7"))
        ).all()
    assert actions == ["test.kept"]
    assert kept.id is not None
