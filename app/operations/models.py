"""The operations table and the per-device items an audience operation applies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    column,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

OPERATION_KINDS = ("audience.update", "devices.release")
OPERATION_STATUSES = ("queued", "running", "succeeded", "partiallySucceeded", "failed")
ITEM_CHANGES = ("addMember", "removeMember", "addExclusion", "removeExclusion", "unenroll")
# pending: not sent yet; sent: Graph accepted it (202), waiting for Graph to show it applied.
ITEM_STATUSES = ("pending", "sent", "succeeded", "failed")


class Operation(Base):
    """Work that outlives a request; callers poll it at /v1/operations/{id}."""

    __tablename__ = "operations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    # The rollout it changes; a release asked for outside any rollout has none.
    rollout_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rollouts.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(24), default="queued", index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(256))
    ticket: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    update_category: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When every change was accepted and the wait for Graph to show them began (wall clock).
    confirming_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(column("status").in_(OPERATION_STATUSES), name="status"),)


class OperationItem(Base):
    """One device change of an operation and its outcome (the unit of retry and of audit)."""

    __tablename__ = "operation_items"

    operation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("operations.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    change: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error_code: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(Text)
    graph_request_id: Mapped[str | None] = mapped_column(String(64))
    # Set on a succeeded item Graph had not fully confirmed in time (e.g. enrollmentPending).
    warning_code: Mapped[str | None] = mapped_column(String(64))
    warning_message: Mapped[str | None] = mapped_column(Text)

    # No index holds `status`, and pages are left half empty: an item's two status changes
    # (sent, then succeeded or failed) are HOT updates that touch no index (migration 0013).
    __table_args__ = (
        Index("ix_operation_items_device_id", "device_id"),
        # The operation's failed items, read on every GET of it (migration 0013).
        Index(
            "ix_operation_items_failed",
            "operation_id",
            "seq",
            postgresql_where=column("error_code").is_not(None),
        ),
        # The operation's warnings, read on every GET of it (migration 0012).
        Index(
            "ix_operation_items_warned",
            "operation_id",
            "seq",
            postgresql_where=column("warning_code").is_not(None),
        ),
        CheckConstraint(column("status").in_(ITEM_STATUSES), name="status"),
        CheckConstraint(column("change").in_(ITEM_CHANGES), name="change"),
        # "failed" and "has an error code" are one thing, so the failed index serves the list.
        CheckConstraint(
            (column("status") == "failed") == column("error_code").is_not(None),
            name="failed_has_error",
        ),
        {"postgresql_with": {"fillfactor": 50}},
    )
