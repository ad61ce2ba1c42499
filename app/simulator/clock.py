"""The simulator's notion of "now": real UTC time by default, settable and advanceable by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SimulatorClock:
    """A UTC clock following wall time until frozen with `set`; `advance` moves it forward."""

    def __init__(self, now: datetime | None = None) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta()
        if now is not None:
            self.set(now)

    @property
    def frozen(self) -> bool:
        """True once `set` pinned the clock to a fixed instant."""
        return self._frozen is not None

    def now(self) -> datetime:
        """The current simulator time (timezone-aware UTC)."""
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def set(self, now: datetime) -> None:
        """Freeze the clock at `now` (a naive datetime is taken as UTC)."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self._frozen = now.astimezone(UTC)

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward by `delta` (seconds or a timedelta) and return the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if self._frozen is not None:
            self._frozen += step
        else:
            self._offset += step
        return self.now()

    def real(self) -> None:
        """Go back to following wall time with no offset."""
        self._frozen = None
        self._offset = timedelta()
