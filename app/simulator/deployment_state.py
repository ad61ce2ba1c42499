"""A deployment's state as Graph reports it: effectiveValue, requestedValue and reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.simulator.models import Deployment
from app.simulator.timefmt import parse_datetime
from app.simulator.validation import odata_type

# Reasons added to the enum after unknownFutureValue: hidden unless the client opts in.
EVOLVABLE_REASONS = frozenset({"faultedByContentOutdated"})


def effective(dep: Deployment, entry: dict[str, Any], now: datetime) -> tuple[str, list[str]]:
    """(effectiveValue, reasons) by precedence: archived, faulted, paused, scheduled, offering.

    Offering reasons follow Microsoft's examples: a deployment that no request has changed offers
    with `reasons: []` ([doc] "Create deployment", adminwindowsupdates-post-deployments.md, and
    the expedite page's create response); after a PATCH it offers by request (`offeringByRequest`,
    [doc] "Update deployment", windowsupdates-deployment-update.md, both examples).
    """
    if dep.requested == "archived":
        return "archived", []
    until = parse_datetime(str(entry.get("deployableUntilDateTime") or ""))
    if until is not None and until <= now:
        return "faulted", ["faultedByContentOutdated"]
    paused = [
        reason
        for reason, on in (
            ("pausedByRequest", dep.requested == "paused"),
            ("pausedByMonitoring", dep.paused_by_monitoring),
        )
        if on
    ]
    if paused:
        return "paused", paused
    schedule = dep.settings.get("schedule") or {}
    start = parse_datetime(str(schedule.get("startDateTime") or ""))
    if start is not None and start > now:
        return "scheduled", ["scheduledByOfferWindow"]
    return "offering", ["offeringByRequest"] if dep.patched else []


def state_json(
    dep: Deployment, entry: dict[str, Any], now: datetime, include_unknown_enum: bool
) -> dict[str, Any]:
    """The `state` property of a deployment body."""
    value, reasons = effective(dep, entry, now)
    shown = [
        r if include_unknown_enum or r not in EVOLVABLE_REASONS else "unknownFutureValue"
        for r in reasons
    ]
    return {
        "@odata.type": odata_type("deploymentState"),
        "effectiveValue": value,
        "requestedValue": dep.requested,
        "reasons": [
            {"@odata.type": odata_type("deploymentStateReason"), "value": r} for r in shown
        ],
    }
