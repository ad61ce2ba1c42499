"""Graph's cross-field rules for deployment settings: monitoring pairs and expedite."""

from __future__ import annotations

from typing import Any

from app.simulator.catalog import QUALITY_TYPE, is_windows11_feature
from app.simulator.errors import bad_request

VALID_PAIRS = {
    ("rollback", "alertError"),
    ("rollback", "pauseDeployment"),
    ("ineligible", "offerFallback"),
}


def check_settings(settings: dict[str, Any], entry: dict[str, Any]) -> None:
    """Raise 400 when settings break a rule that depends on other fields or on the content."""
    _check_monitoring(settings.get("monitoring"), entry)
    _check_expedite(settings.get("expedite"), entry)


def _check_monitoring(monitoring: dict[str, Any] | None, entry: dict[str, Any]) -> None:
    for i, rule in enumerate((monitoring or {}).get("monitoringRules") or []):
        where = f"settings.monitoring.monitoringRules[{i}]"
        pair = (rule.get("signal"), rule.get("action"))
        if pair not in VALID_PAIRS:
            raise bad_request(
                f"The monitoring rule at '{where}' pairs signal '{pair[0]}' with action "
                f"'{pair[1]}'; valid pairs: rollback+alertError, rollback+pauseDeployment, "
                "ineligible+offerFallback.",
                where,
            )
        if pair[0] == "rollback" and rule.get("threshold") is None:
            raise bad_request(f"The monitoring rule at '{where}' needs a threshold (1-100).", where)
        if pair == ("ineligible", "offerFallback") and not is_windows11_feature(entry):
            raise bad_request(
                f"The monitoring rule at '{where}' (offerFallback) applies only to Windows 11 "
                "feature updates.",
                where,
            )


def _check_expedite(expedite: dict[str, Any] | None, entry: dict[str, Any]) -> None:
    if expedite is None:
        return
    if entry.get("@odata.type") != QUALITY_TYPE:
        raise bad_request("Expedite settings apply only to quality updates.", "settings.expedite")
    expedited = expedite.get("isExpedited") is True
    if expedite.get("isReadinessTest") is True and not expedited:
        raise bad_request(
            "isReadinessTest requires isExpedited to be true.", "settings.expedite.isReadinessTest"
        )
    if expedited and not entry.get("isExpeditable"):
        raise bad_request(
            f"The catalog entry '{entry['id']}' cannot be expedited.", "settings.expedite"
        )
