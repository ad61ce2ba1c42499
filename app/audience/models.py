"""The audience_devices table: each rollout's members and exclusions as last confirmed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

MEMBERSHIPS = ("member", "excluded")


class AudienceDevice(Base):
    """A device Graph accepted as a member or an exclusion of a rollout's audience."""

    __tablename__ = "audience_devices"

    rollout_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("rollouts.id"), primary_key=True
    )
    membership: Mapped[str] = mapped_column(String(16), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    confirmed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
