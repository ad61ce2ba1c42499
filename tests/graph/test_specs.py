"""The input specs refuse what Graph would refuse."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.graph.specs import (
    ContentSpec,
    DateDrivenRollout,
    DeploymentSettingsSpec,
    DurationDrivenRollout,
    ExpediteSpec,
    MonitoringRule,
    RateDrivenRollout,
)


@pytest.mark.parametrize("duration", ["P1D", "PT12H", "P2DT3H4M", "PT0.5S", "P10D"])
def test_valid_durations(duration: str) -> None:
    assert DurationDrivenRollout(duration, duration).duration_between_offers == duration


@pytest.mark.parametrize("duration", ["", "P", "PT", "1D", "P1W", "-P1D", "P1DT", "p1d"])
def test_invalid_durations(duration: str) -> None:
    with pytest.raises(ValueError):
        RateDrivenRollout(10, duration)


def test_other_checks() -> None:
    with pytest.raises(ValueError):
        RateDrivenRollout(0)
    with pytest.raises(ValueError):
        DateDrivenRollout(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        DeploymentSettingsSpec(start_date_time=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        MonitoringRule("rollback", 5, "offerFallback")
    with pytest.raises(ValueError):
        MonitoringRule("rollback", 0, "alertError")
    with pytest.raises(ValueError):
        MonitoringRule("rollback", 101, "alertError")
    with pytest.raises(ValueError):
        ExpediteSpec(is_expedited=False, is_readiness_test=True)
    with pytest.raises(ValueError):
        ContentSpec("", "feature")
    assert MonitoringRule("ineligible", 1, "offerFallback").action == "offerFallback"
