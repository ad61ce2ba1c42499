"""The retry budget's arithmetic: full jitter, attempt cap, wait cap, Retry-After honesty."""

from __future__ import annotations

from app.graph.retry import RetryBudget, RetryPolicy


def test_full_jitter_backoff_doubles_and_caps() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(4, lambda: 0.25) == 0.75
    assert policy.backoff(1, lambda: 0.0) == 0.0


def test_attempt_cap() -> None:
    budget = RetryBudget(RetryPolicy(max_attempts=3, max_total_wait=100), lambda: 1.0)
    waits = []
    for _ in range(5):
        budget.start_attempt()
        wait = budget.next_wait(None)
        if wait is None:
            break
        budget.spend(wait)
        waits.append(wait)
    assert budget.attempts == 3
    assert waits == [0.5, 1.0]


def test_retry_after_that_does_not_fit_gives_up_at_once() -> None:
    budget = RetryBudget(RetryPolicy(max_attempts=10, max_total_wait=10), lambda: 1.0)
    budget.start_attempt()
    assert budget.next_wait(4) == 4
    budget.spend(4)
    budget.start_attempt()
    assert budget.next_wait(7) is None  # 6 s left: waiting 7 would break the cap
    assert budget.next_wait(6) == 6


def test_backoff_is_clipped_to_the_remaining_budget() -> None:
    budget = RetryBudget(
        RetryPolicy(max_attempts=10, max_total_wait=1.2, base_delay=1), lambda: 1.0
    )
    budget.start_attempt()
    assert budget.next_wait(None) == 1.0
    budget.spend(1.0)
    budget.start_attempt()
    wait = budget.next_wait(None)
    assert wait is not None and abs(wait - 0.2) < 1e-9
    budget.spend(wait)
    budget.start_attempt()
    assert budget.next_wait(None) is None
