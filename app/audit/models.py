"""The audit_events table (append-only, hash-chained) and the head of its chain.

Migration 0007 installs what keeps it so: triggers refuse UPDATE, DELETE and TRUNCATE, and a
trigger deferred to COMMIT gives every new event its `seq`, `previous_hash` and `hash`
(docs/api-guide.md, "Audit", has the recipe).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

OUTCOMES = ("requested", "succeeded", "failed")

GENESIS_HASH = "0" * 64
"""The `previous_hash` of the first event in the chain (`seq` 1)."""

CHAINED: dict[str, Any] = {"postgresql_where": text("seq IS NOT NULL")}
"""The condition of the audit log's partial indexes: events that have their place in the chain."""


class AuditEvent(Base):
    """Who did what to which rollout, when, under which ticket, and what Graph answered."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    rollout_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    operation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The `requested` event this outcome closes, so a loose end is easy to find.
    intent_id: Mapped[int | None] = mapped_column(BigInteger)
    ticket: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    graph_request_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    device_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The chain, filled by the database when the inserting transaction commits (never by the
    # service; an INSERT that sets them is refused). NULL until then, so they cannot be NOT
    # NULL: seq 1, 2, 3, … in commit order; previous_hash is the hash of seq - 1.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # Whole: it also finds an event left without a place in the chain (verification).
        Index("ix_audit_events_seq", "seq", unique=True),
        # The others hold chained events only, which is all any reader sees: an event enters
        # them once, when COMMIT gives it its seq, instead of at INSERT and again then
        # (migration 0014). A query must imply `seq IS NOT NULL` (`seq > cursor` does).
        Index("ix_audit_events_device_ids", "device_ids", postgresql_using="gin", **CHAINED),
        Index("ix_audit_events_at", "at", **CHAINED),
        Index("ix_audit_events_action", "action", **CHAINED),
        # The list's filters in the list's order (`= value AND seq > cursor ORDER BY seq`), so
        # that a page reads only its own events wherever they are in the log (migration 0011).
        Index("ix_audit_events_rollout_id_seq", "rollout_id", "seq", **CHAINED),
        Index("ix_audit_events_ticket_seq", "ticket", "seq", **CHAINED),
        Index("ix_audit_events_actor_seq", "actor", "seq", **CHAINED),
        CheckConstraint(
            "(seq IS NULL) = (hash IS NULL) AND (hash IS NULL) = (previous_hash IS NULL)",
            name="chain_all_or_none",
        ),
    )


class AuditChainHead(Base):
    """The one row holding the `seq` and `hash` of the newest chained event (0 and
    GENESIS_HASH before the first). Each commit that adds events locks it, which is what makes
    `seq` gapless and in commit order; only the chain trigger may change it."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)
