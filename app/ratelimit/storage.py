"""A `limits` storage on PostgreSQL: rate-limit counters every API replica shares.

`limits` ships storages for Redis, Memcached, MongoDB and memory; this service runs against one
PostgreSQL and nothing else, so this one keeps the counters in the UNLOGGED table
rate_limit_counters. It supports the fixed-window strategy (`incr`) and the sliding-window
counter strategy, which the service uses: each hit is ONE statement — an
``INSERT … ON CONFLICT DO UPDATE … WHERE <under the limit> RETURNING`` on the key's single row,
which holds the counts of the current and the previous window and is rolled forward in place
when a new window begins. The row lock that ON CONFLICT takes serialises concurrent hits on one
key across replicas, so a limit of N lets exactly N through, however many race.

Time is the database's clock (one clock for every replica) unless a clock is given (tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from limits.aio.storage import SlidingWindowCounterSupport, Storage
from sqlalchemy import RowMapping, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

TABLE = "rate_limit_counters"

# The clock: the given epoch seconds, else the database's own (shared by every replica).
# Numeric, not double precision: the weighted count is compared with the limit after floor(),
# where 3 * (1/3) computed in binary floating point would fall just short of 1.
_CLOCK = (
    "clock AS (SELECT CAST(coalesce(CAST(:now AS numeric),"
    " extract(epoch FROM clock_timestamp())) AS numeric) AS now)"
)
# The window `now` falls in, and the seconds of it still to run.
_SLOT = (
    "slot AS (SELECT now, CAST(floor(now / :expiry) AS bigint) AS number,"
    " (floor(now / :expiry) + 1) * :expiry - now AS time_left FROM clock)"
)


def _rolled(row: str, number: str) -> tuple[str, str]:
    """SQL for the (previous, current) counts of `row` as seen from window `number`."""
    previous = (
        f"(CASE WHEN {row}.window_number = {number} THEN {row}.previous_count"
        f" WHEN {row}.window_number = {number} - 1 THEN {row}.count ELSE 0 END)"
    )
    current = f"(CASE WHEN {row}.window_number = {number} THEN {row}.count ELSE 0 END)"
    return previous, current


_PREVIOUS, _CURRENT = _rolled("c", "excluded.window_number")

ACQUIRE_SLIDING = text(
    f"""
WITH {_CLOCK}, {_SLOT},
taken AS (
    INSERT INTO {TABLE} AS c (key, window_number, count, previous_count, expires_at)
    SELECT :key, slot.number, :amount, 0, to_timestamp((slot.number + 2) * :expiry)
    FROM slot
    WHERE :amount <= :limit
    ON CONFLICT (key) DO UPDATE SET
        window_number = excluded.window_number,
        count = {_CURRENT} + excluded.count,
        previous_count = {_PREVIOUS},
        expires_at = excluded.expires_at
    WHERE floor({_PREVIOUS} * (SELECT time_left FROM slot) / :expiry + {_CURRENT})
        + excluded.count <= :limit
    RETURNING c.window_number, c.count, c.previous_count
)
SELECT true AS taken, taken.window_number, taken.count, taken.previous_count, slot.now
FROM taken, slot
UNION ALL
SELECT false, c.window_number, c.count, c.previous_count, slot.now
FROM slot LEFT JOIN {TABLE} AS c ON c.key = :key
WHERE NOT EXISTS (SELECT FROM taken)
"""
)

GET_SLIDING = text(
    f"""
WITH {_CLOCK}, {_SLOT}
SELECT false AS taken, c.window_number, c.count, c.previous_count, slot.now
FROM slot LEFT JOIN {TABLE} AS c ON c.key = :key
"""
)

INCR = text(
    f"""
WITH {_CLOCK}
INSERT INTO {TABLE} AS c (key, window_number, count, previous_count, expires_at)
SELECT :key, NULL, :amount, 0, to_timestamp(clock.now + :expiry) FROM clock
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.expires_at <= (SELECT to_timestamp(now) FROM clock) THEN excluded.count
                 ELSE c.count + excluded.count END,
    expires_at = CASE WHEN c.expires_at <= (SELECT to_timestamp(now) FROM clock)
                      THEN excluded.expires_at ELSE c.expires_at END
RETURNING c.count
"""
)

GET = text(
    f"WITH {_CLOCK} SELECT c.count FROM {TABLE} AS c, clock"
    " WHERE c.key = :key AND c.expires_at > to_timestamp(clock.now)"
)

GET_EXPIRY = text(
    f"WITH {_CLOCK} SELECT coalesce("
    f" (SELECT extract(epoch FROM c.expires_at) FROM {TABLE} AS c"
    "  WHERE c.key = :key AND c.expires_at > to_timestamp(clock.now)),"
    " clock.now) AS expiry FROM clock"
)

DELETE_EXPIRED_COUNTERS = f"DELETE FROM {TABLE} WHERE expires_at < now()"
"""For the periodic sweep: rows of callers that stopped calling (a caller that goes on calling
rolls its own row forward, so this only removes the idle)."""


@dataclass(frozen=True)
class SlidingWindow:
    """A key's sliding window as one statement saw it, at `now` (epoch seconds)."""

    taken: bool
    previous_count: int
    current_count: int
    now: float
    expiry: int

    @property
    def time_left(self) -> float:
        """Seconds until the current window ends."""
        return (math.floor(self.now / self.expiry) + 1) * self.expiry - self.now

    @property
    def weighted_count(self) -> float:
        """The sliding-window-counter estimate of the hits in the last `expiry` seconds: the
        previous window's count weighted by the part of it still inside them, plus the current
        window's."""
        return self.previous_count * self.time_left / self.expiry + self.current_count

    def to_limits(self) -> tuple[int, float, int, float]:
        """(previous count, previous TTL, current count, current TTL), as limits wants it."""
        left = self.time_left
        return (
            self.previous_count,
            left if self.previous_count else 0.0,
            self.current_count,
            left + self.expiry,
        )


def _window(row: RowMapping | None, expiry: int) -> SlidingWindow:
    """The window a statement returned, its counts rolled forward to the window of `now`."""
    assert row is not None
    now = float(row["now"])
    number = math.floor(now / expiry)
    stored, count, previous = row["window_number"], row["count"], row["previous_count"]
    if stored == number:
        counts = (previous or 0, count or 0)
    elif stored == number - 1:
        counts = (count or 0, 0)
    else:  # no row, an expired one, or a fixed-window counter under this key
        counts = (0, 0)
    return SlidingWindow(bool(row["taken"]), counts[0], counts[1], now, expiry)


class PostgresStorage(Storage, SlidingWindowCounterSupport):
    """Rate-limit counters in PostgreSQL, for `limits.aio.strategies` (fixed window and
    sliding window counter).

    Every call is one autocommitted statement on `engine`'s pool: no transaction is held open
    around a hit. After `acquire_sliding_window_entry`, `last_window` holds, for the calling task
    only, the window that statement saw — what the limiter's response headers are computed from,
    with no second round trip.
    """

    STORAGE_SCHEME = None  # built from an engine, not from a storage URI

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], float] | None = None,
        wrap_exceptions: bool = False,
    ) -> None:
        super().__init__(wrap_exceptions=wrap_exceptions)
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.clock = clock
        self.last_window: ContextVar[SlidingWindow | None] = ContextVar(
            f"rate_limit_window_{id(self)}", default=None
        )

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (DBAPIError, PoolTimeout, OSError)

    def _now(self) -> float | None:
        return self.clock() if self.clock is not None else None

    async def _one(self, statement: Any, **params: Any) -> RowMapping | None:
        async with self.engine.connect() as connection:
            result = await connection.execute(statement, {"now": self._now(), **params})
            row = result.mappings().first()
        return row

    # -- the sliding window counter (the strategy the service uses) ---------------------------

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        """Count `amount` hits in `key`'s current window if the weighted count stays within
        `limit`, in one statement; refuse otherwise (nothing is counted then)."""
        row = await self._one(ACQUIRE_SLIDING, key=key, limit=limit, expiry=expiry, amount=amount)
        window = _window(row, expiry)
        self.last_window.set(window)
        return window.taken

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return (await self.sliding_window(key, expiry)).to_limits()

    async def sliding_window(self, key: str, expiry: int) -> SlidingWindow:
        """`key`'s window now, counting nothing."""
        return _window(await self._one(GET_SLIDING, key=key, expiry=expiry), expiry)

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        await self.clear(key)

    # -- the fixed window, and the rest of limits' Storage ------------------------------------

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        row = await self._one(INCR, key=key, expiry=expiry, amount=amount)
        assert row is not None
        return int(row["count"])

    async def get(self, key: str) -> int:
        row = await self._one(GET, key=key)
        return int(row["count"]) if row is not None else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._one(GET_EXPIRY, key=key)
        assert row is not None
        return float(row["expiry"])

    async def check(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except self.base_exceptions:
            return False
        return True

    async def reset(self) -> int | None:
        async with self.engine.connect() as connection:
            result = await connection.execute(text(f"DELETE FROM {TABLE}"))
        return int(result.rowcount)

    async def clear(self, key: str) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text(f"DELETE FROM {TABLE} WHERE key = :key"), {"key": key})

    async def delete_expired(self) -> int:
        """Delete the rows that count for nothing any more; how many there were."""
        async with self.engine.connect() as connection:
            result = await connection.execute(text(DELETE_EXPIRED_COUNTERS))
        return int(result.rowcount)
