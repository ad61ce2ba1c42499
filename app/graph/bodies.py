"""Pure functions from our specs to Graph request bodies, exactly as graph.md describes them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app.graph.specs import (
    AudienceChange,
    ContentSpec,
    DateDrivenRollout,
    DeploymentSettingsSpec,
    DurationDrivenRollout,
    GradualRollout,
    MonitoringRule,
    RateDrivenRollout,
    RequestedState,
    UpdateCategory,
)

NS = "#microsoft.graph.windowsUpdates."
JSON = dict[str, Any]


def odata(type_name: str, **fields: Any) -> JSON:
    """An object tagged with its `@odata.type` in the windowsUpdates namespace."""
    return {"@odata.type": NS + type_name, **fields}


def graph_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, whole seconds unless there are microseconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes sent to Graph must be timezone-aware")
    utc = value.astimezone(UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(fmt)


def content_body(content: ContentSpec) -> JSON:
    """catalogContent pointing at a feature or quality catalog entry."""
    entry_type = (
        "featureUpdateCatalogEntry" if content.kind == "feature" else "qualityUpdateCatalogEntry"
    )
    return odata("catalogContent", catalogEntry=odata(entry_type, id=content.catalog_entry_id))


def gradual_rollout_body(rollout: GradualRollout) -> JSON:
    """One of the three *RolloutSettings (note: `devicesPerOffer`, never `devicePerOffer`)."""
    if isinstance(rollout, RateDrivenRollout):
        return odata(
            "rateDrivenRolloutSettings",
            durationBetweenOffers=rollout.duration_between_offers,
            devicesPerOffer=rollout.devices_per_offer,
        )
    if isinstance(rollout, DateDrivenRollout):
        return odata("dateDrivenRolloutSettings", endDateTime=graph_datetime(rollout.end_date_time))
    if isinstance(rollout, DurationDrivenRollout):
        return odata(
            "durationDrivenRolloutSettings",
            durationBetweenOffers=rollout.duration_between_offers,
            durationUntilDeploymentEnd=rollout.duration_until_deployment_end,
        )
    raise TypeError(f"unknown rollout {rollout!r}")


def monitoring_rule_body(rule: MonitoringRule) -> JSON:
    """One monitoringRule."""
    return odata("monitoringRule", signal=rule.signal, threshold=rule.threshold, action=rule.action)


def settings_body(
    spec: DeploymentSettingsSpec, kind: str | None = None, *, explicit_safeguards: bool = False
) -> JSON:
    """deploymentSettings; `kind` ("feature"/"quality") guards expedite, which is quality-only.

    Safeguards apply by default, so a create leaves them out unless disabled; a PATCH says
    `explicit_safeguards` so that turning them back on is sent as an empty opt-out list.
    """
    body = odata("deploymentSettings")
    if spec.start_date_time is not None or spec.gradual_rollout is not None:
        schedule = odata("scheduleSettings")
        if spec.start_date_time is not None:
            schedule["startDateTime"] = graph_datetime(spec.start_date_time)
        if spec.gradual_rollout is not None:
            schedule["gradualRollout"] = gradual_rollout_body(spec.gradual_rollout)
        body["schedule"] = schedule
    if spec.monitoring_rules is not None:
        rules = [monitoring_rule_body(rule) for rule in spec.monitoring_rules]
        body["monitoring"] = odata("monitoringSettings", monitoringRules=rules)
    if spec.offer_as_optional is not None or spec.days_until_forced_reboot is not None:
        experience = odata("userExperienceSettings")
        if spec.offer_as_optional is not None:
            experience["offerAsOptional"] = spec.offer_as_optional
        if spec.days_until_forced_reboot is not None:
            experience["daysUntilForcedReboot"] = spec.days_until_forced_reboot
        body["userExperience"] = experience
    if not spec.safeguards_enabled or explicit_safeguards:
        disabled = (
            [] if spec.safeguards_enabled else [odata("safeguardProfile", category="likelyIssues")]
        )
        safeguard = odata("safeguardSettings", disabledSafeguardProfiles=disabled)
        body["contentApplicability"] = odata("contentApplicabilitySettings", safeguard=safeguard)
    if spec.expedite is not None:
        if kind == "feature":
            raise ValueError("expedite applies to quality updates only")
        body["expedite"] = odata(
            "expediteSettings",
            isExpedited=spec.expedite.is_expedited,
            isReadinessTest=spec.expedite.is_readiness_test,
        )
    return body


def create_deployment_body(
    content: ContentSpec, settings: DeploymentSettingsSpec | None, audience_id: str
) -> JSON:
    """POST /deployments: content, settings and our pre-created audience."""
    body: JSON = odata("deployment", content=content_body(content))
    if settings is not None:
        body["settings"] = settings_body(settings, content.kind)
    body["audience"] = odata("deploymentAudience", id=audience_id)
    return body


def state_body(requested: RequestedState) -> JSON:
    """PATCH /deployments/{id} asking for a state."""
    if requested not in ("none", "paused", "archived"):
        raise ValueError(f"unknown requested state {requested!r}")
    return odata("deployment", state=odata("deploymentState", requestedValue=requested))


def update_settings_body(spec: DeploymentSettingsSpec, kind: str | None = None) -> JSON:
    """PATCH /deployments/{id} replacing the settings (safeguards always stated)."""
    return odata("deployment", settings=settings_body(spec, kind, explicit_safeguards=True))


def devices(ids: Iterable[str]) -> list[JSON]:
    """azureADDevice references."""
    return [odata("azureADDevice", id=device_id) for device_id in ids]


def update_audience_body(change: AudienceChange) -> JSON:
    """POST .../audience/updateAudience; empty lists are left out."""
    body: JSON = {}
    for key, ids in (
        ("addMembers", change.add_members),
        ("removeMembers", change.remove_members),
        ("addExclusions", change.add_exclusions),
        ("removeExclusions", change.remove_exclusions),
    ):
        if ids:
            body[key] = devices(ids)
    return body


def assets_body(category: UpdateCategory, ids: Iterable[str]) -> JSON:
    """POST /updatableAssets/enrollAssets or unenrollAssets."""
    return {"updateCategory": category, "assets": devices(ids)}
