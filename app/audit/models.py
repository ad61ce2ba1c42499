"""The audit_events table (append-only: the service only ever inserts)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

OUTCOMES = ("requested", "succeeded", "failed")


class AuditEvent(Base):
    """Who did what to which rollout, when, under which ticket, and what Graph answered."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(256), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    rollout_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The `requested` event this outcome closes, so a loose end is easy to find.
    intent_id: Mapped[int | None] = mapped_column(BigInteger)
    ticket: Mapped[str | None] = mapped_column(String(128), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    graph_request_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    device_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

    __table_args__ = (
        Index("ix_audit_events_device_ids", "device_ids", postgresql_using="gin"),
        Index("ix_audit_events_at", "at"),
    )
