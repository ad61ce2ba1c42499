"""The managed_devices table: the devices the service enrolled in update management, per category.

A device enrolled for a category receives updates of that category only through deployments. The
service keeps this record so that it can tell which of the devices it enrolled are *held* (in no
active rollout of the category: they get nothing of it) and hand them back with a release.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, column, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

MANAGED_STATUSES = ("enrolled", "released")


class ManagedDevice(Base):
    """A device the service asked Graph to enroll for one update category, and what came of it."""

    __tablename__ = "managed_devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="enrolled")
    enrolled_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    enrolled_by_operation: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The rollout that last had the device as a member, and when it stopped being one there
    # (removed from the audience); a rollout that ended says so in rollouts.ended_at.
    last_rollout_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rollouts.id")
    )
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(column("status").in_(MANAGED_STATUSES), name="status"),)
