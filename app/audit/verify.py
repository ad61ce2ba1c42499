"""Verifying the audit log's hash chain: recompute every event's hash, follow the links.

The chain (migration 0007): each committed event has `seq` (1, 2, 3, … in commit order),
`previous_hash` (the `hash` of `seq - 1`, GENESIS_HASH for `seq` 1) and `hash`, the database
function `audit_event_digest(...)` of its content, `seq` and `previous_hash`. The one row of
`audit_chain_head` holds the newest `seq` and `hash`.

A verification walks `seq` order in keyset batches (a few thousand rows per query, each row's
digest recomputed by PostgreSQL, so that only ids and hashes leave the database): memory stays
constant and a range of any size can be checked. It stops at the first problem.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from app.audit.schemas import ChainProblem

BATCH_SIZE = 5000

DIGEST = func.audit_event_digest(
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
    AuditEvent.device_ids,
    AuditEvent.detail,
    AuditEvent.seq,
    AuditEvent.previous_hash,
)
"""The event's hash recomputed from what is stored now (SQL; the recipe is in the API guide)."""


@dataclass(frozen=True)
class Break:
    """The first place where the chain does not hold."""

    id: int | None
    seq: int | None
    problem: ChainProblem
    message: str


@dataclass(frozen=True)
class Verification:
    """What a verification found over `from_seq`…`to_seq`."""

    events: int
    from_seq: int
    to_seq: int
    head_hash: str | None
    first_broken: Break | None

    @property
    def ok(self) -> bool:
        return self.first_broken is None


@dataclass(frozen=True)
class _Newest:
    """The head and the newest chained event, read by one statement (one snapshot): the same
    COMMIT writes both, so they must agree."""

    head_seq: int | None
    head_hash: str | None
    id: int | None
    seq: int
    hash: str


async def _newest(session: AsyncSession) -> _Newest:
    one = select(literal(1).label("one")).subquery("one")
    head = select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == 1).subquery()
    last = (
        select(AuditEvent.id, AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
        .subquery()
    )
    query = select(
        head.c.seq.label("head_seq"),
        head.c.hash.label("head_hash"),
        last.c.id,
        last.c.seq,
        last.c.hash,
    ).select_from(one.outerjoin(head, true()).outerjoin(last, true()))
    row = (await session.execute(query)).one()
    return _Newest(row.head_seq, row.head_hash, row.id, row.seq or 0, row.hash or GENESIS_HASH)


async def _hash_at(session: AsyncSession, seq: int) -> str | None:
    """The stored hash of the event at `seq` (GENESIS_HASH for 0; None when there is none)."""
    if seq == 0:
        return GENESIS_HASH
    hash_: str | None = await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
    return hash_


async def _rows(
    session: AsyncSession, after: int, stop: int, batch_size: int
) -> AsyncGenerator[Row[Any], None]:
    """The chain after `after` up to `stop`, in `seq` order, one keyset batch per query."""
    while after < stop:
        batch = (
            await session.execute(
                select(
                    AuditEvent.id,
                    AuditEvent.seq,
                    AuditEvent.hash,
                    AuditEvent.previous_hash,
                    DIGEST.label("digest"),
                )
                .where(AuditEvent.seq > after, AuditEvent.seq <= stop)
                .order_by(AuditEvent.seq)
                .limit(batch_size)
            )
        ).all()
        if not batch:
            return
        for row in batch:
            yield row
        after = batch[-1].seq


def _event(row: Any) -> str:
    return f"event {row.id} (seq {row.seq})"


def _broken_link(row: Any) -> Break:
    return Break(
        row.id,
        row.seq,
        "brokenLink",
        f"{_event(row)} does not link to the hash of seq {row.seq - 1}: that event was changed"
        " and its hash recomputed",
    )


def _check(row: Any, expected: int, previous_hash: str | None, last: int) -> Break | None:
    """The problem with the row expected at `expected`, linking to `previous_hash`. A row after
    `last` (the range's successor) only has to link to the range's last event."""
    if row.seq != expected:
        missing = f"{expected}" if row.seq == expected + 1 else f"{expected}–{row.seq - 1}"
        return Break(row.id, row.seq, "gap", f"seq {missing} missing before {_event(row)}")
    if previous_hash is None:
        return Break(row.id, row.seq, "gap", f"seq {row.seq - 1} missing before {_event(row)}")
    if row.seq <= last and row.digest != row.hash:
        return Break(
            row.id,
            row.seq,
            "hashMismatch",
            f"{_event(row)} does not hash to its stored hash: it was changed",
        )
    if row.previous_hash != previous_hash:
        return _broken_link(row)
    return None


def _head_break(newest: _Newest) -> Break | None:
    """The head must name the newest event: the same `seq` and `hash`."""
    if newest.head_seq is None:
        if newest.seq == 0:
            return None  # an empty log: the first event writes the head
        message = "the chain head is missing"
    elif (newest.head_seq, newest.head_hash) == (newest.seq, newest.hash):
        return None
    elif newest.head_seq > newest.seq:
        message = (
            f"the chain head records seq {newest.head_seq}, the newest event is seq"
            f" {newest.seq}: the events after it are missing"
        )
    else:
        message = (
            f"the chain head records seq {newest.head_seq} with hash {newest.head_hash}, the"
            f" newest event is seq {newest.seq} with hash {newest.hash}"
        )
    return Break(newest.id, newest.seq or None, "headMismatch", message)


async def _unchained(session: AsyncSession) -> Break | None:
    """A committed event without a `seq`. Other transactions' uncommitted events are not
    visible here, so one found was written behind the database's triggers."""
    event_id = await session.scalar(
        select(AuditEvent.id).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(1)
    )
    if event_id is None:
        return None
    return Break(
        event_id,
        None,
        "missingSeq",
        f"event {event_id} has no place in the chain: it was written behind the database's"
        " triggers",
    )


async def verify_chain(
    session: AsyncSession,
    *,
    from_seq: int | None = None,
    to_seq: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> Verification:
    """Recompute the chain over `from_seq`…`to_seq` (default: all of it; a `to_seq` past the
    newest event means the newest) and name the first place where it breaks.

    Checked, in this order: no `seq` is missing; every event in the range hashes to its `hash`
    and links to the one before it (the range's first to the event before the range, or to
    GENESIS_HASH); the event after the range, if there is one, links to the range's last;
    when the range ends at the newest event, the head agrees with it; no committed event lacks
    a `seq`.
    """
    newest = await _newest(session)
    first = from_seq if from_seq is not None else 1
    last = min(to_seq, newest.seq) if to_seq is not None else newest.seq
    stop = last + 1 if last < newest.seq else last  # the range's successor is read too
    expected, previous_hash, checked = first, await _hash_at(session, first - 1), 0
    broken: Break | None = None
    async with aclosing(_rows(session, first - 1, stop, batch_size)) as rows:
        async for row in rows:
            broken = _check(row, expected, previous_hash, last)
            if broken is not None or row.seq > last:
                break
            checked, expected, previous_hash = checked + 1, expected + 1, row.hash
    if broken is None and expected <= last:
        missing = f"{expected}" if expected == last else f"{expected}–{last}"
        broken = Break(None, expected, "gap", f"seq {missing} missing")
    if broken is None and last == newest.seq:
        broken = _head_break(newest)
    if broken is None:
        broken = await _unchained(session)
    if broken is not None:
        return Verification(checked, first, last, None, broken)
    head_hash = previous_hash if checked else await _hash_at(session, last)
    return Verification(checked, first, last, head_hash, None)
