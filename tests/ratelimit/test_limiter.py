"""The per-caller rate limit on real PostgreSQL: two limiters on two engines stand for two API
replicas sharing one budget per caller. Most tests drive the storage's clock by hand (no
sleeps); one runs on the database's own clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from limits.aio.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.limits import RateLimitItemPerMinute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db import create_engine
from app.ratelimit.limiter import (
    UNLIMITED,
    CallerRateLimiter,
    RateDecision,
    build_rate_limiter,
    decide,
    seconds_until_allowed,
)
from app.ratelimit.storage import DELETE_EXPIRED_COUNTERS, PostgresStorage, SlidingWindow
from tests.conftest import make_settings

# 2026-11-28 12:00:00 UTC: a multiple of 60, so T0 is the start of a one-minute window.
T0 = 1_795_867_200.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engines(clean_database: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines (two pools), as two API replicas would have."""
    first, second = create_engine(clean_database), create_engine(clean_database)
    yield first, second
    await first.dispose()
    await second.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def replicas(
    engines: tuple[AsyncEngine, AsyncEngine], limit: int, clock: Callable[[], float] | None
) -> tuple[CallerRateLimiter, CallerRateLimiter]:
    return (
        CallerRateLimiter(PostgresStorage(engines[0], clock=clock), limit),
        CallerRateLimiter(PostgresStorage(engines[1], clock=clock), limit),
    )


async def counter_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.scalar(text("SELECT count(*) FROM rate_limit_counters"))) or 0)


async def test_two_replicas_share_one_budget_and_the_next_request_is_refused(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    a, b = replicas(engines, 5, clock)
    clock.now = T0 + 15  # 45 s of the window to run
    decisions = [await (a if i % 2 else b).hit("svc-servicenow") for i in range(5)]
    assert [d.allowed for d in decisions] == [True] * 5
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    assert all(d.limit == 5 for d in decisions)
    assert decisions[0].reset_after_seconds == 45  # the window ends in 45 s
    # Nothing left: the reset is when a request will be accepted again. This minute's 5 decay
    # in the next one: 5 × (60 − s) / 60 < 5 once s > 0, i.e. 45 s + a moment from now.
    assert decisions[-1].reset_after_seconds == 46

    refused = await a.hit("svc-servicenow")
    assert refused == RateDecision(allowed=False, limit=5, remaining=0, reset_after_seconds=46)
    assert refused.headers() == {
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "46",
        "Retry-After": "46",
    }
    assert not (await b.hit("svc-servicenow")).allowed
    assert await counter_rows(engines[0]) == 1  # one row per caller; refusals count nothing


async def test_each_caller_has_its_own_budget(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    a, b = replicas(engines, 2, clock)
    assert [(await a.hit("alice")).allowed for _ in range(3)] == [True, True, False]
    assert [(await b.hit("bob")).allowed for _ in range(3)] == [True, True, False]
    assert (await b.hit("carol")).remaining == 1


async def test_the_window_slides_the_previous_minute_weighing_less_as_it_passes(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    a, b = replicas(engines, 6, clock)
    clock.now = T0 + 30
    assert all([(await a.hit("alice")).allowed for _ in range(6)])
    assert not (await b.hit("alice")).allowed

    # 20 s into the next minute: the 6 weigh 6 × 40/60 = 4, so 2 more fit.
    clock.now = T0 + 60 + 20
    assert [(await b.hit("alice")).allowed for _ in range(3)] == [True, True, False]
    # Retry once 6 × (60 − s)/60 + 2 < 6, i.e. s > 20: a second from now.
    assert (await a.hit("alice")).reset_after_seconds == 1

    # Two windows on, nothing of it is left: the whole budget again.
    clock.now = T0 + 180
    decision = await a.hit("alice")
    assert (decision.allowed, decision.remaining) == (True, 5)


async def test_no_fixed_window_burst_at_the_turn_of_the_minute(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    """A fixed window would allow 10 within two seconds here; the sliding window allows 5."""
    a, _ = replicas(engines, 5, clock)
    clock.now = T0 + 59
    assert all([(await a.hit("alice")).allowed for _ in range(5)])
    clock.now = T0 + 60
    assert not (await a.hit("alice")).allowed


async def test_fifty_concurrent_hits_on_two_replicas_let_exactly_the_limit_through(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    a, b = replicas(engines, 10, clock)
    clock.now = T0 + 10
    decisions = await asyncio.gather(*[(a if i % 2 else b).hit("burst") for i in range(50)])
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))
    assert all(d.reset_after_seconds >= 1 for d in decisions if not d.allowed)


async def test_on_the_database_clock_a_refused_caller_is_let_in_again_after_retry_after(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """A two-second window on the database's own clock (what production uses). The hits start
    just after a window begins, so all three land in one window however slow the machine."""
    a = CallerRateLimiter(PostgresStorage(engines[0]), 2, window_seconds=2)
    b = CallerRateLimiter(PostgresStorage(engines[1]), 2, window_seconds=2)
    await start_of_database_window(engines[0], 2)
    assert (await a.hit("alice")).allowed
    assert (await b.hit("alice")).allowed
    refused = await a.hit("alice")
    assert not refused.allowed
    assert 1 <= refused.reset_after_seconds <= 2
    await asyncio.sleep(refused.reset_after_seconds)
    assert (await b.hit("alice")).allowed


async def start_of_database_window(engine: AsyncEngine, seconds: int) -> None:
    """Sleep until the database's clock has just entered a window of `seconds`."""
    async with engine.connect() as connection:
        now = (
            await connection.execute(text("SELECT extract(epoch FROM clock_timestamp())"))
        ).scalar_one()
    await asyncio.sleep(seconds - float(now) % seconds + 0.02)


async def test_zero_turns_the_limit_off(clean_database: str) -> None:
    engine = create_engine(clean_database)
    try:
        limiter = build_rate_limiter(make_settings(clean_database, rate_limit_per_minute=0), engine)
        assert not limiter.enabled
        assert limiter.limit is None
        decisions = [await limiter.hit("alice") for _ in range(5)]
        assert decisions == [UNLIMITED] * 5
        assert UNLIMITED.headers() == {}
        assert await counter_rows(engine) == 0

        default = build_rate_limiter(make_settings(clean_database), engine)
        assert (default.enabled, default.limit) == (True, 600)
    finally:
        await engine.dispose()


async def test_an_unreachable_database_lets_requests_through_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = create_async_engine("postgresql+psycopg://postgres@127.0.0.1:9/none")
    limiter = CallerRateLimiter(PostgresStorage(engine), 1)
    try:
        with caplog.at_level(logging.WARNING, logger="app.ratelimit.limiter"):
            decisions = [await limiter.hit("alice") for _ in range(3)]
        assert decisions == [UNLIMITED] * 3
        warnings = [r for r in caplog.records if r.name == "app.ratelimit.limiter"]
        assert len(warnings) == 1  # not one per request
        assert "rate limit not applied" in warnings[0].getMessage()
    finally:
        await engine.dispose()


async def test_a_hit_that_waits_too_long_is_let_through_and_the_pool_still_works(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    """A row lock held elsewhere stands for a database too slow to answer."""
    a = CallerRateLimiter(PostgresStorage(engines[0], clock=clock), 3, timeout_seconds=0.3)
    assert (await a.hit("alice")).allowed
    async with engines[1].connect() as holder:
        await holder.execute(text("SELECT * FROM rate_limit_counters FOR UPDATE"))
        assert await a.hit("alice") == UNLIMITED
        await holder.rollback()
    decision = await a.hit("alice")
    assert (decision.allowed, decision.remaining) == (True, 1)  # the timed-out hit counted nothing


async def test_the_storage_serves_limits_own_strategies(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    storage = PostgresStorage(engines[0], clock=clock)
    item = RateLimitItemPerMinute(2)
    assert await storage.check()

    sliding = SlidingWindowCounterRateLimiter(storage)
    clock.now = T0 + 30
    assert [await sliding.hit(item, "alice") for _ in range(3)] == [True, True, False]
    assert not await sliding.test(item, "alice")
    stats = await sliding.get_window_stats(item, "alice")
    assert stats.remaining == 0
    await sliding.clear(item, "alice")
    assert await sliding.test(item, "alice")

    fixed = FixedWindowRateLimiter(storage)
    assert [await fixed.hit(item, "bob") for _ in range(3)] == [True, True, False]
    stats = await fixed.get_window_stats(item, "bob")
    assert (stats.reset_time, stats.remaining) == (T0 + 90, 0)
    clock.now = T0 + 90  # the fixed window (from the first hit) is over
    assert await fixed.hit(item, "bob")
    assert await storage.get(item.key_for("bob")) == 1
    assert await storage.reset() == 1  # bob's row: alice's went with clear()


async def test_the_sweep_deletes_only_counters_that_count_for_nothing(
    engines: tuple[AsyncEngine, AsyncEngine], clock: Clock
) -> None:
    """Timestamps are real here: the sweep's statement uses the database's now()."""
    idle, active = (
        CallerRateLimiter(PostgresStorage(engines[0], clock=Clock(T0)), 5),  # long ago
        CallerRateLimiter(PostgresStorage(engines[0]), 5),
    )
    await idle.hit("gone")
    await active.hit("here")
    async with engines[0].begin() as connection:
        deleted = await connection.execute(text(DELETE_EXPIRED_COUNTERS))
    assert deleted.rowcount == 1
    async with engines[0].connect() as connection:
        keys = (await connection.scalars(text("SELECT key FROM rate_limit_counters"))).all()
    assert [key.split("/")[1] for key in keys] == ["here"]


def _seen_at(window: SlidingWindow, at: float) -> SlidingWindow:
    """`window` as seen at `at`, later: its counts rolled on by the windows that began since."""
    windows_on = int(at // window.expiry - window.now // window.expiry)
    previous, current = (window.previous_count, window.current_count)
    if windows_on == 1:
        previous, current = current, 0
    elif windows_on > 1:
        previous, current = 0, 0
    return SlidingWindow(False, previous, current, at, window.expiry)


@pytest.mark.parametrize(
    ("previous", "current", "now", "limit", "expected"),
    [
        (0, 5, T0 + 15, 5, 46),  # this window full: wait for it to decay in the next
        (6, 2, T0 + 20, 6, 1),  # 6 × 40/60 + 2 = 6: just over, a second
        (6, 0, T0 + 1, 3, 30),  # 6 × (60 − s)/60 < 3 once s > 30
        (0, 10, T0 + 59.5, 5, 31),  # 10 × (60 − s)/60 < 5 once s > 30, plus the half second
        (9, 1, T0 + 10, 6, 17),  # 9 × (60 − s)/60 + 1 < 6 once s > 60 − 100/3
    ],
)
def test_retry_after_is_the_first_whole_second_at_which_a_request_fits(
    previous: int, current: int, now: float, limit: int, expected: int
) -> None:
    window = SlidingWindow(False, previous, current, now, 60)
    assert window.weighted_count >= limit
    assert seconds_until_allowed(window, limit) == expected
    assert _seen_at(window, now + expected).weighted_count < limit
    assert _seen_at(window, now + expected - 1).weighted_count >= limit


def test_retry_after_is_never_below_a_second() -> None:
    """A refusal seen under the limit (another request's view, a moment old): try again soon."""
    assert seconds_until_allowed(SlidingWindow(False, 0, 0, T0 + 1, 60), 3) == 1


def test_an_allowed_hit_with_budget_left_resets_at_the_end_of_the_window() -> None:
    decision = decide(SlidingWindow(True, 0, 1, T0 + 0.5, 60), 10)
    assert decision == RateDecision(allowed=True, limit=10, remaining=9, reset_after_seconds=60)
