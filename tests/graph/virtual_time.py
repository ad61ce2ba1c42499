"""Time that moves only when a test says so, for asserting when concurrent calls were sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the other tasks run until `condition` holds (fails if it never does)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never reached: {what}")


@dataclass
class VirtualTime:
    """A monotonic clock and a sleep that agree: sleepers wake when `advance` passes their end."""

    now: float = 0.0
    wakes: list[float] = field(default_factory=list)  # the instant each sleep was to end
    _sleepers: list[tuple[float, asyncio.Future[None]]] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = self.now + seconds
        self.wakes.append(wake)
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((wake, future))
        await future

    @property
    def asleep(self) -> int:
        """How many sleeps have not ended yet."""
        return sum(not future.done() for _, future in self._sleepers)

    async def settle(self, asleep: int) -> None:
        """Let the other tasks run until exactly `asleep` of them are sleeping."""
        await until(lambda: self.asleep == asleep, f"{asleep} tasks asleep")

    def advance(self, to: float) -> None:
        """Move the clock to `to` and wake every sleep that ends by then."""
        self.now = to
        for wake, future in self._sleepers:
            if wake <= to and not future.done():
                future.set_result(None)
