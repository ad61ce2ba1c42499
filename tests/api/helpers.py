"""Small helpers for API tests: device ids, a valid rollout body, reading the database, holding
one Graph call."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.rollouts.models import Rollout

W11_24H2 = "Windows 11, version 24H2"


def device_ids(count: int, first_hex: str = "1") -> list[str]:
    """`count` distinct, valid Entra device ids (the simulator's tenant knows ids not
    starting with e or f)."""
    return [f"{first_hex}{uuid.uuid4().hex[1:8]}-0000-4000-8000-{i:012d}" for i in range(count)]


def rollout_body(**overrides: Any) -> dict[str, Any]:
    """A valid create-rollout body for Windows 11 24H2; `overrides` replace fields."""
    body: dict[str, Any] = {
        "name": "Windows 11 24H2 – pilot ring",
        "ticket": "CHG0012345",
        "reason": "Quarterly OS upgrade, pilot",
        "update": {"kind": "feature", "version": W11_24H2},
    }
    body.update(overrides)
    return body


async def table_counts(app: FastAPI) -> tuple[int, int]:
    """(rollouts, audit events) rows in the database."""
    async with app.state.services.sessionmaker() as session:
        rollouts = await session.scalar(select(func.count()).select_from(Rollout))
        events = await session.scalar(select(func.count()).select_from(AuditEvent))
    return int(rollouts or 0), int(events or 0)


async def rollout_row(app: FastAPI, rollout_id: str) -> Rollout:
    """The rollout's row as the database has it now."""
    async with app.state.services.sessionmaker() as session:
        row = await session.get(Rollout, uuid.UUID(rollout_id))
        assert row is not None
        return row


async def audit_trail(app: FastAPI, rollout_id: str) -> list[AuditEvent]:
    """Every audit event of a rollout, in order."""
    async with app.state.services.sessionmaker() as session:
        rows = await session.execute(
            select(AuditEvent)
            .where(AuditEvent.rollout_id == uuid.UUID(rollout_id))
            .order_by(AuditEvent.id)
        )
        return list(rows.scalars())


def hold_graph_call(
    monkeypatch: pytest.MonkeyPatch, graph: Any, method: str, *, answered: bool
) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold the first call of `graph.<method>` until `release` is set: with `answered` after
    Graph has answered it (the answer is on its way back), else before it is sent. `reached`
    is set once that call is held; later calls pass straight through. Returns (reached,
    release): set `release` in a `finally`, so that a failing test does not leave it waiting."""
    original = getattr(graph, method)
    reached, release = asyncio.Event(), asyncio.Event()

    taken = False

    async def held(*args: Any, **kwargs: Any) -> Any:
        nonlocal taken
        first, taken = not taken, True
        if first and not answered:
            reached.set()
            await release.wait()
        result = await original(*args, **kwargs)
        if first and answered:
            reached.set()
            await release.wait()
        return result

    monkeypatch.setattr(graph, method, held)
    return reached, release
