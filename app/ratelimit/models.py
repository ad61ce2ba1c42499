"""The rate_limit_counters table: the callers' request counts, shared by every API replica."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class RateLimitCounter(Base):
    """One row per rate-limit key (one per caller and limit), rolled forward in place.

    A sliding-window key holds the count of its current window (`window_number` is
    floor(epoch seconds / window length)) and the count of the window before it; a fixed-window
    key (what limits' plain `incr` uses) leaves `window_number` NULL. UNLOGGED: counters need no
    crash durability (a crash forgets at most one window of counts) and skip the WAL.
    """

    __tablename__ = "rate_limit_counters"
    __table_args__ = ({"prefixes": ("UNLOGGED",)},)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    window_number: Mapped[int | None] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    previous_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # After this the row counts for nothing: the periodic sweep deletes it (no index, so that
    # the per-request UPDATE stays a HOT update; the table has one row per active caller).
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
