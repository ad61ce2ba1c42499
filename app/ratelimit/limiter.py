"""Requests per caller per minute (RATE_LIMIT_PER_MINUTE), one budget per caller however many
API replicas serve it: the counters live in PostgreSQL (app/ratelimit/storage.py).

Strategy: limits' sliding window counter. A fixed window lets a caller send its whole budget at
the end of one minute and again at the start of the next (twice the limit within a few seconds),
and a refused caller may have to wait up to the full minute. The sliding window counter weighs
the previous minute's count by the part of it still inside the last 60 seconds, which comes
close to a true moving window, at the same cost as a fixed window: one row per caller and one
UPSERT per request. (A true moving window keeps a timestamp per request: 600 per caller.)
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ratelimit.problems import RateLimited
from app.ratelimit.storage import PostgresStorage, SlidingWindow
from app.settings import Settings

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
TIMEOUT_SECONDS = 2.0
"""How long a hit may wait for the database (a pool checkout, a connection, the statement)
before the request is let through unchecked."""
WARN_EVERY_SECONDS = 60.0
STATE_ATTRIBUTE = "rate_limit"
"""request.state.rate_limit: the request's RateDecision, for RateLimitHeadersMiddleware."""


@dataclass(frozen=True)
class RateDecision:
    """Whether one request of a caller may go on, and what its headers say."""

    allowed: bool
    limit: int | None
    """None: not limited (the limit is off, or the counters could not be reached)."""
    remaining: int = 0
    """Requests still allowed now, this one counted."""
    reset_after_seconds: int = 0
    """Whole seconds until the current window ends; when nothing remains (and so when refused),
    until a request will be accepted again."""

    def headers(self) -> dict[str, str]:
        """RateLimit-Limit/-Remaining/-Reset, and Retry-After when refused."""
        if self.limit is None:
            return {}
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_after_seconds)
        return headers


UNLIMITED = RateDecision(allowed=True, limit=None)


def seconds_until_allowed(window: SlidingWindow, limit: int) -> int:
    """Whole seconds (at least 1) until one more request fits under `limit`: until the weighted
    count of `window`, decaying as time passes, falls below `limit`."""
    previous, current, left, expiry = (
        window.previous_count,
        window.current_count,
        window.time_left,
        window.expiry,
    )
    if current < limit and previous:
        # In this window, once previous × (time still to run) / expiry < limit − current.
        wait = left - (limit - current) * expiry / previous
    elif current >= limit:
        # In the next window, where this window's count is the one that decays.
        wait = left + expiry - limit * expiry / current
    else:  # already under the limit (another request's view, a moment old)
        wait = 0.0
    return max(1, math.floor(wait) + 1)


def decide(window: SlidingWindow, limit: int) -> RateDecision:
    """The decision and headers for a hit that saw `window` (its own hit counted if taken)."""
    remaining = max(0, limit - math.floor(window.weighted_count)) if window.taken else 0
    if remaining:
        reset = max(1, math.ceil(window.time_left))
    else:
        reset = seconds_until_allowed(window, limit)
    return RateDecision(window.taken, limit, remaining, reset)


def _unreachable(exc: BaseException) -> bool:
    """The database could not be reached in time (not: it refused what it was sent)."""
    if isinstance(exc, TimeoutError | PoolTimeout | OperationalError | OSError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class CallerRateLimiter:
    """RATE_LIMIT_PER_MINUTE for each caller, on limits' sliding window counter with the
    counters in PostgreSQL. Without a storage (the limit set to 0) every request is allowed.

    When the counters cannot be reached (the database down, or slower than TIMEOUT_SECONDS),
    requests are let through unchecked and a warning is logged (at most once a minute): the
    limit protects the service from a runaway caller, it is not what makes a read correct, so an
    unreachable counter must not turn a read that needs no database (the catalog) into an error.
    A request that does need the database fails on its own with a 503.
    """

    def __init__(
        self,
        storage: PostgresStorage | None,
        per_window: int,
        *,
        window_seconds: int = WINDOW_SECONDS,
        timeout_seconds: float = TIMEOUT_SECONDS,
        namespace: str = "callers",
    ) -> None:
        self.storage = storage
        self.item: RateLimitItem = RateLimitItemPerSecond(
            max(per_window, 1), window_seconds, namespace=namespace
        )
        self.strategy = SlidingWindowCounterRateLimiter(storage) if storage is not None else None
        self.timeout_seconds = timeout_seconds
        self._failed_open = 0
        self._warned_at: float | None = None

    @classmethod
    def disabled(cls) -> CallerRateLimiter:
        return cls(None, 0)

    @property
    def enabled(self) -> bool:
        return self.strategy is not None

    @property
    def limit(self) -> int | None:
        return self.item.amount if self.enabled else None

    async def hit(self, caller: str) -> RateDecision:
        """Count one request of `caller`: allowed, or refused with when to retry."""
        if self.strategy is None or self.storage is None:
            return UNLIMITED
        try:
            async with asyncio.timeout(self.timeout_seconds):
                self.storage.last_window.set(None)
                await self.strategy.hit(self.item, caller)
                window = self.storage.last_window.get()
                if window is None:  # a strategy that did not go through acquire: read it
                    window = await self.storage.sliding_window(
                        self.item.key_for(caller), self.item.get_expiry()
                    )
        except (TimeoutError, DBAPIError, PoolTimeout, OSError) as exc:
            if not _unreachable(exc):
                raise
            self._fail_open(exc)
            return UNLIMITED
        return decide(window, self.item.amount)

    async def enforce(self, request: Request, caller_name: str) -> None:
        """Count the request for `caller_name`; raise RateLimited (429) over the limit.

        The decision is kept on `request.state.rate_limit`, from which RateLimitHeadersMiddleware
        puts the RateLimit-* headers on whatever response the request gets; a request already
        counted (two role dependencies on one route) is not counted again."""
        if isinstance(getattr(request.state, STATE_ATTRIBUTE, None), RateDecision):
            return
        decision = await self.hit(caller_name)
        setattr(request.state, STATE_ATTRIBUTE, decision)
        if not decision.allowed:
            raise RateLimited(
                f"More than {decision.limit} requests a minute from {caller_name}; retry in"
                f" {decision.reset_after_seconds} s.",
                headers=decision.headers(),
                retryAfterSeconds=decision.reset_after_seconds,
            )

    def _fail_open(self, exc: BaseException) -> None:
        self._failed_open += 1
        now = time.monotonic()
        if self._warned_at is not None and now - self._warned_at < WARN_EVERY_SECONDS:
            return
        log.warning(
            "rate limit not applied: the counters in the database could not be reached (%s);"
            " %d request(s) let through unchecked since the last warning",
            type(exc).__name__,
            self._failed_open,
        )
        self._warned_at, self._failed_open = now, 0


def build_rate_limiter(settings: Settings, engine: AsyncEngine) -> CallerRateLimiter:
    """The limiter RATE_LIMIT_PER_MINUTE describes, its counters on `engine`'s database."""
    if settings.rate_limit_per_minute == 0:
        return CallerRateLimiter.disabled()
    return CallerRateLimiter(PostgresStorage(engine), settings.rate_limit_per_minute)


async def enforce_rate_limit(request: Request, caller_name: str) -> None:
    """Count this request against `caller_name`'s budget; RateLimited (429, Retry-After) over
    it. Call it once per request, once the caller is known (the role dependency)."""
    limiter: CallerRateLimiter | None = getattr(request.app.state.services, "rate_limiter", None)
    if limiter is not None:
        await limiter.enforce(request, caller_name)
