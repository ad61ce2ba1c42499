"""The idempotency_keys table: one row per caller and key, holding the first response."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

KEY_MAX_LENGTH = 255
KEY_PATTERN = f"^[\\x21-\\x7e]{{1,{KEY_MAX_LENGTH}}}$"
"""Visible ASCII: what a header carries unquoted."""


class IdempotencyKey(Base):
    """A caller's key: which request it was for, who holds it now, and the response it got."""

    __tablename__ = "idempotency_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    caller: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(KEY_MAX_LENGTH))
    # SHA-256 of method, path, query and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(2048))
    request_id: Mapped[str | None] = mapped_column(String(128))
    # The request serving the key now, and until when it may (a crash lets another take over).
    owner: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set in the same transaction as the request's first write: from then on the key stands
    # for that change, and is never run again.
    has_effects: Mapped[bool] = mapped_column(Boolean, default=False)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[list[Any] | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (UniqueConstraint("caller", "key"),)
