"""Reading the audit log: filtered keyset pages in chain (`seq`) order, and single events.

Pages follow `seq`, not `id`: ids are taken at INSERT, `seq` at COMMIT (migration 0007), so a
transaction that commits late can hold an id lower than events already listed, never a lower
`seq`. Whoever sees `seq` N sees every `seq` below it; events not yet committed have no `seq`
and are not visible to anyone else anyway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.schemas import LIST_DEVICE_IDS, AuditEventOut
from app.pagination import InvalidCursor, decode_cursor, encode_cursor

MAX_EVENT_ID = 2**63 - 1
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class AuditFilters:
    """The list's filters; None means "any"."""

    rollout_id: uuid.UUID | None = None
    ticket: str | None = None
    actor: str | None = None
    device_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions for the filters that are set."""
        equal: list[tuple[Any, Any]] = [
            (AuditEvent.rollout_id, self.rollout_id),
            (AuditEvent.ticket, self.ticket),
            (AuditEvent.actor, self.actor),
            (AuditEvent.action, self.action),
            (AuditEvent.outcome, self.outcome),
        ]
        found: list[ColumnElement[bool]] = [c == v for c, v in equal if v is not None]
        if self.device_id is not None:
            found.append(AuditEvent.device_ids.contains([self.device_id]))  # @> (GIN index)
        if self.since is not None:
            found.append(AuditEvent.at >= self.since)
        if self.until is not None:
            found.append(AuditEvent.at < self.until)
        return found


_LIST_COLUMNS = (
    AuditEvent.id,
    AuditEvent.at,
    AuditEvent.actor,
    AuditEvent.action,
    AuditEvent.outcome,
    AuditEvent.rollout_id,
    AuditEvent.operation_id,
    AuditEvent.intent_id,
    AuditEvent.ticket,
    AuditEvent.reason,
    AuditEvent.request_id,
    AuditEvent.graph_request_ids,
    AuditEvent.detail,
    AuditEvent.seq,
    AuditEvent.hash,
    AuditEvent.previous_hash,
    # Only the head of the array leaves the database: an event can name 100,000 devices.
    AuditEvent.device_ids[1:LIST_DEVICE_IDS].label("device_ids"),
    func.coalesce(func.cardinality(AuditEvent.device_ids), 0).label("device_count"),
)


def _after(cursor: str | None) -> int:
    if cursor is None:
        return 0
    value = decode_cursor(cursor, keys=frozenset({"s"}))["s"]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQ:
        raise InvalidCursor("Pass back the `nextCursor` of a previous page unchanged.")
    return value


def _list_query(filters: AuditFilters, after: int, limit: int) -> Select[Any]:
    return (
        select(*_LIST_COLUMNS)
        .where(AuditEvent.seq > after, *filters.conditions())
        .order_by(_list_order(filters))
        .limit(limit + 1)
    )


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


def _list_order(filters: AuditFilters) -> Any:
    """`seq`; with a deviceId filter, `seq + 0`: the same order, hidden from the seq index.

    PostgreSQL has no statistics for one device id among the arrays and guesses that about
    0.5 % of events name it (5,000 of 1,000,000), so it walks the seq index expecting a page
    soon and filters every event on the way: 520 ms for a device named by 5 events among
    1,000,000 (bench/audit_scale.py). A device is named by few events (those that changed
    it), so the GIN index first, then sorting the few it finds, is the right plan: 0.1 ms.
    """
    return AuditEvent.seq + 0 if filters.device_id is not None else AuditEvent.seq


def _out(row: Any, device_ids: list[str], device_count: int) -> AuditEventOut:
    return AuditEventOut(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        outcome=row.outcome,
        rolloutId=str(row.rollout_id) if row.rollout_id else None,
        operationId=str(row.operation_id) if row.operation_id else None,
        intentId=row.intent_id,
        ticket=row.ticket,
        reason=row.reason,
        requestId=row.request_id,
        graphRequestIds=list(row.graph_request_ids or []),
        deviceCount=device_count,
        deviceIds=device_ids,
        detail=dict(row.detail or {}),
        seq=row.seq,
        hash=row.hash,
        previousHash=row.previous_hash,
    )


async def list_events(
    session: AsyncSession, filters: AuditFilters, *, limit: int, cursor: str | None
) -> tuple[list[AuditEventOut], str | None]:
    """A page of matching events in ascending `seq` order, and the cursor of the next page."""
    if filters.device_id is not None:
        # Planned for this device id each time: after five runs psycopg prepares the statement
        # and PostgreSQL may settle on a plan made without the value, which scans every event
        # (56 ms p50 at 1,000,000 events instead of 0.1 ms). For this transaction only.
        await session.execute(_CUSTOM_PLANS)
    rows = list((await session.execute(_list_query(filters, _after(cursor), limit))).all())
    page = [_out(r, list(r.device_ids or []), r.device_count) for r in rows[:limit]]
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor({"s": page[-1].seq})


async def get_event(session: AsyncSession, event_id: int) -> AuditEventOut | None:
    """The whole event, with every device id; None when there is none with this id.

    Only chained events: one without a `seq` is either not committed yet (invisible here) or
    was written behind the database's triggers (verification reports it as `missingSeq`)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.id == event_id, AuditEvent.seq.is_not(None))
        # This session may hold the object from before its COMMIT, without its chain columns.
        .execution_options(populate_existing=True)
    )
    event = (await session.execute(query)).scalar_one_or_none()
    if event is None:
        return None
    return _out(event, list(event.device_ids), len(event.device_ids))
