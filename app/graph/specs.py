"""What the services ask of Graph, in plain terms: frozen inputs that bodies.py turns into JSON.

Each type checks at construction what Graph would refuse anyway (naive datetimes, malformed ISO
8601 durations, thresholds outside 1–100, invalid monitoring pairs), raising ValueError; the public
API's models should refuse such input first, so these checks are a last guard, not the UX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

UpdateCategory: TypeAlias = Literal["feature", "quality", "driver"]
RequestedState: TypeAlias = Literal["none", "paused", "archived"]
ContentKind: TypeAlias = Literal["feature", "quality"]
MonitoringSignal: TypeAlias = Literal["rollback", "ineligible"]
MonitoringAction: TypeAlias = Literal["alertError", "pauseDeployment", "offerFallback"]

# The pattern of Microsoft's OpenAPI for Edm.Duration, minus the sign (negative makes no sense).
_DURATION = re.compile(r"^P(?=\d|T\d)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")

VALID_MONITORING_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("rollback", "alertError"), ("rollback", "pauseDeployment"), ("ineligible", "offerFallback")}
)


def _check_duration(name: str, value: str) -> None:
    """Refuse anything but a positive ISO 8601 day/time duration such as P1D or PT12H."""
    if not _DURATION.match(value):
        raise ValueError(f"{name} must be an ISO 8601 duration like P1D or PT12H, got {value!r}")


def _check_aware(name: str, value: datetime) -> None:
    """Refuse naive datetimes: Graph wants an instant, and we send it as UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True)
class RateDrivenRollout:
    """Offer the update to `devices_per_offer` devices every `duration_between_offers`."""

    devices_per_offer: int
    duration_between_offers: str = "P1D"

    def __post_init__(self) -> None:
        if self.devices_per_offer < 1:
            raise ValueError("devices_per_offer must be at least 1")
        _check_duration("duration_between_offers", self.duration_between_offers)


@dataclass(frozen=True)
class DateDrivenRollout:
    """Spread the offers evenly so that every device is offered by `end_date_time`."""

    end_date_time: datetime

    def __post_init__(self) -> None:
        _check_aware("end_date_time", self.end_date_time)


@dataclass(frozen=True)
class DurationDrivenRollout:
    """Spread the offers over `duration_until_deployment_end`, in steps."""

    duration_until_deployment_end: str
    duration_between_offers: str = "P1D"

    def __post_init__(self) -> None:
        _check_duration("duration_until_deployment_end", self.duration_until_deployment_end)
        _check_duration("duration_between_offers", self.duration_between_offers)


GradualRollout: TypeAlias = RateDrivenRollout | DateDrivenRollout | DurationDrivenRollout


@dataclass(frozen=True)
class MonitoringRule:
    """One OR-ed rule: when `signal` reaches `threshold` percent of devices, take `action`."""

    signal: MonitoringSignal
    threshold: int
    action: MonitoringAction

    def __post_init__(self) -> None:
        if (self.signal, self.action) not in VALID_MONITORING_PAIRS:
            raise ValueError(f"monitoring pair {self.signal}+{self.action} is not valid")
        if not 1 <= self.threshold <= 100:
            raise ValueError("threshold must be between 1 and 100")


@dataclass(frozen=True)
class ExpediteSpec:
    """Expedite a quality update (optionally only as a readiness test)."""

    is_expedited: bool
    is_readiness_test: bool = False

    def __post_init__(self) -> None:
        if self.is_readiness_test and not self.is_expedited:
            raise ValueError("is_readiness_test needs is_expedited")


@dataclass(frozen=True)
class DeploymentSettingsSpec:
    """A deployment's settings; None leaves a part out of the body (Graph's default applies)."""

    start_date_time: datetime | None = None
    gradual_rollout: GradualRollout | None = None
    monitoring_rules: tuple[MonitoringRule, ...] | None = None
    offer_as_optional: bool | None = None
    days_until_forced_reboot: int | None = None
    safeguards_enabled: bool = True
    expedite: ExpediteSpec | None = None

    def __post_init__(self) -> None:
        if self.start_date_time is not None:
            _check_aware("start_date_time", self.start_date_time)
        if self.days_until_forced_reboot is not None and self.days_until_forced_reboot < 0:
            raise ValueError("days_until_forced_reboot must not be negative")


@dataclass(frozen=True)
class ContentSpec:
    """The catalog entry a deployment delivers."""

    catalog_entry_id: str
    kind: ContentKind

    def __post_init__(self) -> None:
        if not self.catalog_entry_id:
            raise ValueError("catalog_entry_id must not be empty")


@dataclass(frozen=True)
class AudienceChange:
    """One updateAudience call's worth of device ids, by list."""

    add_members: tuple[str, ...] = ()
    remove_members: tuple[str, ...] = ()
    add_exclusions: tuple[str, ...] = ()
    remove_exclusions: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """How many ids the call carries in total."""
        return (
            len(self.add_members)
            + len(self.remove_members)
            + len(self.add_exclusions)
            + len(self.remove_exclusions)
        )

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id the call carries, list by list in the order above."""
        return self.add_members + self.remove_members + self.add_exclusions + self.remove_exclusions
