"""The commands table: what to send to Graph for a rollout, its lease, and what came of it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    column,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

COMMAND_KINDS = (
    "deployment.create",
    "deployment.setState",
    "deployment.update",
    "deployment.delete",
)
COMMAND_STATUSES = ("queued", "running", "succeeded", "failed")


class Command(Base):
    """One Graph write for a rollout. The request that asks for it inserts it with its audit
    intent and commits; an executor claims it (a lease), calls Graph, and records the outcome,
    the audit event and the rollout's transition in one transaction. A claim whose lease ran out
    (its holder died) is claimed again; each kind is safe to repeat (a create is adopted through
    its anchor, the pre-created audience id)."""

    __tablename__ = "commands"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(32))
    rollout_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rollouts.id"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    anchor: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    intent_event_id: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    actor: Mapped[str] = mapped_column(String(256))
    ticket: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(column("status").in_(COMMAND_STATUSES), name="status"),
        CheckConstraint(column("kind").in_(COMMAND_KINDS), name="kind"),
    )
