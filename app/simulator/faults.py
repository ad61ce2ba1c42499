"""Fault injection: latency, random 429/503 with Retry-After, scripted answers, lost responses."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TypeVar

DEFAULT_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def _fits(rule_method: str | None, rule_path: str | None, method: str, path: str) -> bool:
    if rule_method is not None and rule_method.upper() != method:
        return False
    return rule_path is None or rule_path in path


@dataclass
class ScriptedFault:
    """The next `count` matching calls answer `status` before anything else happens."""

    status: int
    count: int = 1
    retry_after: int | None = None
    method: str | None = None
    path_contains: str | None = None
    code: str | None = None
    message: str | None = None

    @property
    def error_code(self) -> str:
        """The Graph error code sent with this status."""
        return self.code or DEFAULT_CODES.get(self.status, "UnknownError")


@dataclass
class DropFault:
    """The next `count` matching calls are processed, then the response is lost.

    With `hang_seconds` the simulator waits that long before answering `status` (a client whose
    timeout is shorter sees a timeout); otherwise it answers `status` at once.
    """

    status: int = 504
    count: int = 1
    method: str | None = None
    path_contains: str | None = None
    hang_seconds: float | None = None


@dataclass
class FaultInjector:
    """All fault switches of one simulator; random decisions come from a seeded RNG."""

    seed: int = 0
    latency_seconds: float = 0.0
    throttle_rate: float = 0.0
    unavailable_rate: float = 0.0
    retry_after_seconds: int = 1
    rate_methods: frozenset[str] | None = None
    scripted: list[ScriptedFault] = field(default_factory=list)
    drops: list[DropFault] = field(default_factory=list)
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def inject(
        self,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> ScriptedFault:
        """Queue a scripted answer for the next `count` calls matching method/path."""
        fault = ScriptedFault(status, count, retry_after, method, path_contains, code, message)
        self.scripted.append(fault)
        return fault

    def drop_after_processing(
        self,
        status: int = 504,
        count: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        hang_seconds: float | None = None,
    ) -> DropFault:
        """Apply the next `count` matching calls but replace their response (see DropFault)."""
        fault = DropFault(status, count, method, path_contains, hang_seconds)
        self.drops.append(fault)
        return fault

    def set_rates(
        self,
        throttle: float | None = None,
        unavailable: float | None = None,
        retry_after: int | None = None,
        methods: frozenset[str] | None = None,
    ) -> None:
        """Set the share (0–1) of calls answered 429 / 503, their Retry-After and methods hit."""
        for rate in (throttle, unavailable):
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise ValueError("rates are fractions between 0 and 1")
        if throttle is not None:
            self.throttle_rate = throttle
        if unavailable is not None:
            self.unavailable_rate = unavailable
        if retry_after is not None:
            self.retry_after_seconds = retry_after
        if methods is not None:
            self.rate_methods = frozenset(m.upper() for m in methods)

    def take_scripted(self, method: str, path: str) -> ScriptedFault | None:
        """Consume one use of the first scripted fault that matches, if any."""
        return _take(self.scripted, method, path)

    def take_drop(self, method: str, path: str) -> DropFault | None:
        """Consume one use of the first drop fault that matches, if any."""
        return _take(self.drops, method, path)

    def roll(self, method: str) -> int | None:
        """Draw from the RNG: 429, 503 or None (no fault) for a call with this method."""
        if self.rate_methods is not None and method not in self.rate_methods:
            return None
        if not (self.throttle_rate or self.unavailable_rate):
            return None
        draw = self.rng.random()
        if draw < self.throttle_rate:
            return 429
        if draw < self.throttle_rate + self.unavailable_rate:
            return 503
        return None

    def clear(self, seed: int | None = None) -> None:
        """Remove every fault and reseed the RNG (with `seed`, or the current seed)."""
        if seed is not None:
            self.seed = seed
        self.latency_seconds = 0.0
        self.throttle_rate = 0.0
        self.unavailable_rate = 0.0
        self.retry_after_seconds = 1
        self.rate_methods = None
        self.scripted.clear()
        self.drops.clear()
        self.rng = random.Random(self.seed)


F = TypeVar("F", ScriptedFault, DropFault)


def _take(queue: list[F], method: str, path: str) -> F | None:
    for fault in queue:
        if _fits(fault.method, fault.path_contains, method, path):
            fault.count -= 1
            if fault.count <= 0:
                queue.remove(fault)
            return fault
    return None
