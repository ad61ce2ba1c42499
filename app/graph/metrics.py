"""Counters of one GraphClient since it was built, plain values for an exporter to read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def status_class(status: int | None) -> str:
    """ "2xx", "4xx", "5xx" ... for an HTTP status; "network" when no response came back."""
    return "network" if status is None else f"{status // 100}xx"


@dataclass
class GraphMetrics:
    """What the client did: every HTTP attempt, retry, throttle and second spent waiting.

    `calls` counts HTTP requests sent to Graph (token requests excluded) by
    (operation, status class), e.g. ("updateAudience", "4xx"). `retries`: requests repeated
    after a failure (a 401 repeat included). `throttles`: 429s and 503s with Retry-After.
    `throttle_wait_seconds`: slept on Retry-After / the shared back-off; `backoff_wait_seconds`:
    slept backing off after other failures. `token_refreshes`: times the bearer token changed
    (the first token included). `in_flight`, a gauge: requests being sent right now.
    """

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries: int = 0
    throttles: int = 0
    throttle_wait_seconds: float = 0.0
    backoff_wait_seconds: float = 0.0
    token_refreshes: int = 0
    in_flight: int = 0

    def record_call(self, operation: str, status: int | None) -> None:
        """Count one HTTP attempt of `operation` and how it ended."""
        self.calls[(operation, status_class(status))] += 1
