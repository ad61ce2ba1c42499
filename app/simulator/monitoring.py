"""Monitoring rules: which rules a rollback signal trips."""

from __future__ import annotations

from typing import Any


def pause_rules(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The rollback + pauseDeployment rules of a deployment's settings."""
    monitoring = settings.get("monitoring") or {}
    rules = monitoring.get("monitoringRules") or []
    return [
        rule
        for rule in rules
        if rule.get("signal") == "rollback" and rule.get("action") == "pauseDeployment"
    ]


def trips_pause(settings: dict[str, Any], rollback_percent: float | None) -> bool:
    """True when some rollback + pauseDeployment rule's threshold is at or below the signal."""
    if rollback_percent is None:
        return False
    return any(
        rule.get("threshold") is not None and rule["threshold"] <= rollback_percent
        for rule in pause_rules(settings)
    )
