"""The rollouts table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Enum, Index, String, Text, column, func, inspect
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.db import Base
from app.rollouts.observed import ObservedState
from app.rollouts.status import RolloutStatus, check_move

# Our record's lifecycle (status.TRANSITIONS); Graph's own state is cached in `graph_state`.
ROLLOUT_STATUSES = tuple(status.value for status in RolloutStatus)
STATUS_TYPE = Enum(
    RolloutStatus,
    native_enum=False,
    length=16,
    values_callable=lambda statuses: [status.value for status in statuses],
    validate_strings=True,
)


class Rollout(Base):
    """One Graph deployment with the name, ticket, settings and creator Graph cannot hold."""

    __tablename__ = "rollouts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    status: Mapped[RolloutStatus] = mapped_column(STATUS_TYPE, default=RolloutStatus.CREATING)
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
    # The deployment state as Graph last reported it: ObservedState.to_record(); see `observed`.
    graph_state: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the rollout stopped reaching devices: archived or deleted through the service.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_rollouts_created_at_id", "created_at", "id"),
        CheckConstraint(column("status").in_(ROLLOUT_STATUSES), name="status"),
    )

    @validates("status")
    def _check_status(self, _key: str, value: str) -> RolloutStatus:
        """Every status assignment is a move status.TRANSITIONS allows (ForbiddenTransition)."""
        state = inspect(self)
        current = state.dict.get("status")
        if current is None and state.has_identity:
            return RolloutStatus(value)  # not loaded (expired): checked by the database only
        return check_move(current, RolloutStatus(value))

    def move_to(self, status: RolloutStatus) -> None:
        """Change the status; ForbiddenTransition if the lifecycle does not allow the move."""
        self.status = status

    @property
    def observed(self) -> ObservedState | None:
        """Graph's state as last observed; None before Graph was first read."""
        return ObservedState.from_record(self.graph_state) if self.graph_state else None

    @observed.setter
    def observed(self, state: ObservedState) -> None:
        self.graph_state = state.to_record()
