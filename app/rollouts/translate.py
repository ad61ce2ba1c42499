"""A rollout's settings in the public API's terms → the Graph client's deployment spec."""

from __future__ import annotations

from app.graph.specs import (
    DateDrivenRollout,
    DeploymentSettingsSpec,
    DurationDrivenRollout,
    ExpediteSpec,
    GradualRollout,
    MonitoringAction,
    MonitoringRule,
    RateDrivenRollout,
)
from app.rollouts.schemas import QualityUpdateRef, RolloutSettings, Schedule, UpdateRef

GRAPH_ACTIONS: dict[str, MonitoringAction] = {
    "pause": "pauseDeployment",
    "alert": "alertError",
    "offerFallback": "offerFallback",
}


def gradual_rollout(schedule: Schedule | None) -> GradualRollout | None:
    """waves → rate driven, endBy → date driven, spreadOver → duration driven; none: at once."""
    if schedule is None:
        return None
    if schedule.waves is not None:
        return RateDrivenRollout(
            devices_per_offer=schedule.waves.devicesPerWave,
            duration_between_offers=schedule.waves.every,
        )
    if schedule.endBy is not None:
        return DateDrivenRollout(end_date_time=schedule.endBy)
    if schedule.spreadOver is not None:
        return DurationDrivenRollout(duration_until_deployment_end=schedule.spreadOver)
    return None


def deployment_settings(settings: RolloutSettings, update: UpdateRef) -> DeploymentSettingsSpec:
    """The Graph deployment settings that carry out `settings` for `update`."""
    schedule = settings.schedule
    experience = settings.userExperience
    expedite = None
    if isinstance(update, QualityUpdateRef) and update.expedite:
        expedite = ExpediteSpec(is_expedited=True, is_readiness_test=update.readinessTest)
    return DeploymentSettingsSpec(
        start_date_time=schedule.startAt if schedule else None,
        gradual_rollout=gradual_rollout(schedule),
        monitoring_rules=(
            tuple(
                MonitoringRule(
                    signal=rule.signal,
                    threshold=rule.thresholdPercent,
                    action=GRAPH_ACTIONS[rule.action],
                )
                for rule in settings.monitoring
            )
            if settings.monitoring is not None
            else None
        ),
        offer_as_optional=experience.offerAsOptional if experience else None,
        days_until_forced_reboot=experience.daysUntilForcedReboot if experience else None,
        safeguards_enabled=settings.safeguards.enabled,
        expedite=expedite,
    )
