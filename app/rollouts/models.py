"""The rollouts table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

# Lifecycle of our record (Graph's own state is read from Graph and cached in `graph_state`):
# creating → active (Graph created it) | failed (Graph refused; nothing exists) ; active → deleted.
ROLLOUT_STATUSES = ("creating", "active", "failed", "deleted")


class Rollout(Base):
    """One Graph deployment with the name, ticket, settings and creator Graph cannot hold."""

    __tablename__ = "rollouts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), default="creating")
    graph_deployment_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    graph_audience_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    ticket: Mapped[str | None] = mapped_column(String(128), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    update_kind: Mapped[str] = mapped_column(String(16))
    catalog_entry_id: Mapped[str] = mapped_column(String(128))
    update_version: Mapped[str | None] = mapped_column(Text, index=True)
    update_display_name: Mapped[str | None] = mapped_column(Text)
    build_number: Mapped[str | None] = mapped_column(String(32))
    # The settings as the caller asked for them, in the public API's terms (camelCase).
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The deployment state as Graph last reported it: {effective, requested, reasons}.
    graph_state: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the rollout stopped reaching devices: archived or deleted through the service.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_rollouts_created_at_id", "created_at", "id"),)
