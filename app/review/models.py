"""The changes table: requests waiting for a second person's approval, and what came of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, column, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.review.rules import CHANGE_ACTIONS

CHANGE_STATUSES = ("pendingApproval", "approved", "applied", "failed", "rejected", "expired")


class Change(Base):
    """A request that `APPROVALS` held back: the request as its caller sent it, the plan of
    what it would do, who asked, and — once decided — who approved or rejected it and the
    answer the request got when it was carried out."""

    __tablename__ = "changes"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), default="pendingApproval")
    action: Mapped[str] = mapped_column(String(16))
    rollout_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONB)
    devices: Mapped[int] = mapped_column(default=0)
    requested_by: Mapped[str] = mapped_column(String(256))
    requester_role: Mapped[str] = mapped_column(String(16))
    requester_via: Mapped[str] = mapped_column(String(16))
    ticket: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(256))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(column("status").in_(CHANGE_STATUSES), name="status"),
        CheckConstraint(column("action").in_(CHANGE_ACTIONS), name="action"),
        Index("ix_changes_status_created", "status", "created_at"),
        Index("ix_changes_created", "created_at", "id"),
    )
