"""How fast one GraphClient talks to Graph: a bound on requests in flight, one shared back-off.

Graph throttles per app (graph.md "Throttling"), so when it tells one call to wait, every other
call of the process would be told the same: they all wait for one "not before" instant instead
of each learning it from its own 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from app.graph.metrics import GraphMetrics
from app.graph.retry import RetryBudget

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class Pacer:
    """At most `concurrency` Graph requests in flight, and the shared not-before instant."""

    def __init__(
        self, concurrency: int, *, sleep: Sleep, clock: Clock, metrics: GraphMetrics
    ) -> None:
        """`sleep` and `clock` must agree (asyncio.sleep and time.monotonic, or test fakes)."""
        self._slots = asyncio.Semaphore(concurrency)
        self._sleep = sleep
        self._clock = clock
        self._metrics = metrics
        self._not_before = float("-inf")

    async def acquire(
        self, budget: RetryBudget, own: float = 0.0, *, throttled: bool = False
    ) -> bool:
        """Wait (see `wait`), then take a request slot; False, holding none, if over budget.

        The instant is checked again once a slot is had: a call queued for a slot while another
        call was throttled must not go out before the instant either.
        """
        while True:
            if not await self.wait(budget, own, throttled=throttled):
                return False
            await self._slots.acquire()
            if self.held_for() <= 0:
                self._metrics.in_flight += 1
                return True
            self._slots.release()
            own = 0.0

    def release(self) -> None:
        """Give back the slot taken by `acquire`."""
        self._metrics.in_flight -= 1
        self._slots.release()

    def hold_off(self, seconds: float) -> None:
        """No call sends before now + `seconds`; a later instant already set is kept."""
        self._not_before = max(self._not_before, self._clock() + seconds)

    def held_for(self) -> float:
        """Seconds until the shared not-before instant (0 when it has passed)."""
        return max(self._not_before - self._clock(), 0.0)

    async def wait(self, budget: RetryBudget, own: float = 0.0, *, throttled: bool = False) -> bool:
        """Sleep `own` seconds and until the shared instant, spending `budget`; False if too long.

        The instant is checked again after each sleep, since another call may have pushed it
        later meanwhile. `throttled`: `own` is a Retry-After (or a throttle's backoff), counted
        as throttle waiting in the metrics; otherwise as backoff.
        """
        delay = max(own, self.held_for())
        own_part = 0.0 if throttled else min(own, delay)
        while delay > 0:
            if delay > budget.remaining_wait:
                return False
            budget.spend(delay)
            self._metrics.backoff_wait_seconds += own_part
            self._metrics.throttle_wait_seconds += delay - own_part
            await self._sleep(delay)
            delay, own_part = self.held_for(), 0.0
        return True
