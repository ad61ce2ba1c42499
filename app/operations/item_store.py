"""An operation's per-device items, read and written with set-based SQL: the service's own cost
per device stays a small fraction of Graph's, at 100,000 devices as at 10."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Integer, String, Update, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import table_of
from app.operations.models import OperationItem


@dataclass(frozen=True, slots=True)
class Item:
    """One device change of an operation, as the executor needs it (no ORM object per device)."""

    seq: int
    change: str
    device_id: str


def chunks_of(items: Sequence[Item], size: int) -> list[Sequence[Item]]:
    """The items in calls of at most `size` (GRAPH_MAX_IDS_PER_CALL), in order: how an operation
    is sent, and how a dry run plans it."""
    return [items[i : i + size] for i in range(0, len(items), size)]


async def load(session: AsyncSession, operation_id: uuid.UUID, status: str) -> list[Item]:
    """The operation's items in `status`, in order."""
    rows = await session.execute(
        select(OperationItem.seq, OperationItem.change, OperationItem.device_id)
        .where(OperationItem.operation_id == operation_id, OperationItem.status == status)
        .order_by(OperationItem.seq)
    )
    return [Item(seq, change, device_id) for seq, change, device_id in rows.all()]


async def mark(
    session: AsyncSession,
    operation_id: uuid.UUID,
    items: Iterable[Item],
    status: str,
    *,
    only_from: Sequence[str] = ("pending", "sent"),
    **values: str | None,
) -> None:
    """One UPDATE giving `items` the `status` (and error, warning or request id `values`);
    items already settled otherwise are left alone."""
    seqs = [item.seq for item in items]
    if seqs:
        await session.execute(*mark_statement(operation_id, seqs, status, only_from, values))


def mark_statement(
    operation_id: uuid.UUID,
    seqs: Sequence[int],
    status: str,
    only_from: Sequence[str],
    values: Mapping[str, str | None],
) -> tuple[Update, dict[str, Any]]:
    """The UPDATE `mark` runs, and its parameters (to EXPLAIN it)."""
    statement = _marking(tuple(values))
    return statement, _mark_parameters(operation_id, seqs, status, only_from, values)


def _mark_parameters(
    operation_id: uuid.UUID,
    seqs: Sequence[int],
    status: str,
    only_from: Sequence[str],
    values: Mapping[str, str | None],
) -> dict[str, Any]:
    return {
        "of_operation": operation_id,
        "lowest": min(seqs),
        "highest": max(seqs),
        "seqs": list(seqs),
        "only_from": list(only_from),
        "new_status": status,
        **{f"new_{name}": value for name, value in values.items()},
    }


@functools.cache
def _marking(value_names: tuple[str, ...]) -> Update:
    """The UPDATE of `mark` for one set of columns, built once (building and keying it for
    every chunk cost more than running it); its parameters are bound per call.

    It bounds seq by the batch's lowest and highest too: a range the primary key scans
    directly. With `seq = ANY(...)` alone, PostgreSQL 15's planner, whose statistics predated
    the operation's items, filtered on it instead, and every batch read all the operation's
    pending items (quadratic in the operation's size)."""
    items = table_of(OperationItem)
    return (
        update(items)
        .where(
            items.c.operation_id == bindparam("of_operation"),
            items.c.status == func.any(bindparam("only_from", type_=ARRAY(String))),
            items.c.seq.between(bindparam("lowest"), bindparam("highest")),
            items.c.seq == func.any(bindparam("seqs", type_=ARRAY(Integer))),
        )
        .values(
            status=bindparam("new_status"),
            **{name: bindparam(f"new_{name}") for name in value_names},
        )
    )


async def counts(session: AsyncSession, operation_id: uuid.UUID) -> dict[str, int]:
    """How many items are in each status."""
    rows = await session.execute(
        select(OperationItem.status, func.count())
        .where(OperationItem.operation_id == operation_id)
        .group_by(OperationItem.status)
    )
    return {status: int(count) for status, count in rows.all()}
