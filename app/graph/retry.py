"""The retry budget: attempts and seconds of waiting one Graph operation may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Caps and backoff shape (full jitter: a random wait in [0, min(max, base·2^(n-1))])."""

    max_attempts: int = 5
    max_total_wait: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 30.0

    def backoff(self, retry_number: int, rand: Callable[[], float]) -> float:
        """Full-jitter exponential backoff before retry number `retry_number` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        return float(rand() * ceiling)


class RetryBudget:
    """Attempts and waiting left for one operation (shared by the calls an operation makes)."""

    def __init__(self, policy: RetryPolicy, rand: Callable[[], float]) -> None:
        self.policy = policy
        self._rand = rand
        self.attempts = 0
        self.waited = 0.0

    def start_attempt(self) -> None:
        """Count an attempt about to be made."""
        self.attempts += 1

    @property
    def remaining_wait(self) -> float:
        """Seconds of waiting still allowed."""
        return max(self.policy.max_total_wait - self.waited, 0.0)

    def next_wait(self, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None: give up now.

        A server-given Retry-After is honoured exactly; if it does not fit in the remaining
        budget there is no point waiting at all. Backoff is clipped to what is left.
        """
        if self.attempts >= self.policy.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.remaining_wait else None
        wait = self.policy.backoff(self.attempts, self._rand)
        if wait > self.remaining_wait:
            if self.remaining_wait <= 0:
                return None
            wait = self.remaining_wait
        return wait

    def spend(self, seconds: float) -> None:
        """Record a wait."""
        self.waited += seconds
