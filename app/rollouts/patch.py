"""Changing a rollout's name and settings with a JSON merge patch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.graph.results import GraphResult
from app.graph.specs import DeploymentSettingsSpec
from app.graph.wire import Deployment
from app.problems import FieldError, ValidationFailed, field_errors
from app.rollouts.errors import (
    UpdateImmutable,
)
from app.rollouts.lifecycle import ensure_actionable, refresh_state
from app.rollouts.merge_patch import merge_patch
from app.rollouts.models import Rollout
from app.rollouts.schemas import (
    FeatureUpdateRef,
    QualityUpdateRef,
    RolloutPatch,
    RolloutSettings,
    UpdateRef,
)
from app.rollouts.service import (
    SETTINGS_FIELDS,
    RolloutServices,
    check_settings_for,
    check_ticket,
    requested_settings,
    resolve_update,
)
from app.rollouts.translate import deployment_settings
from app.rollouts.views import graph_state_record


def _validated_settings(merged: dict[str, Any]) -> RolloutSettings:
    try:
        return RolloutSettings.model_validate(merged)
    except ValidationError as exc:
        raise ValidationFailed(
            "The patched rollout is not valid.", errors=field_errors(exc.errors())
        ) from None


def _present(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if v is not None}


def _settings_patch(
    before: DeploymentSettingsSpec, after: DeploymentSettingsSpec
) -> DeploymentSettingsSpec:
    """The spec to PATCH so that Graph ends up with `after`, where Graph can be told so.

    Graph keeps every settings part a PATCH leaves out, so a removal must be said explicitly.
    Monitoring can be (an empty rule list) and so can safeguards (an empty opt-out list, which
    every settings PATCH states); Graph's settings body cannot say "no schedule" or "default
    user experience", so those removals are refused (422) rather than recorded here while Graph
    keeps the old value.
    """
    errors = []
    if _has_schedule(before) and not _has_schedule(after):
        errors.append(
            FieldError(field="schedule", message="cannot be removed once set; change it instead")
        )
    if _has_experience(before) and not _has_experience(after):
        errors.append(
            FieldError(
                field="userExperience",
                message="cannot be removed once set; give offerAsOptional or"
                " daysUntilForcedReboot instead",
            )
        )
    if errors:
        raise ValidationFailed(
            f"{len(errors)} setting(s) cannot be changed this way on Graph.", errors=errors
        )
    if after.monitoring_rules is None:
        return replace(after, monitoring_rules=())
    return after


def _has_schedule(spec: DeploymentSettingsSpec) -> bool:
    return spec.start_date_time is not None or spec.gradual_rollout is not None


def _has_experience(spec: DeploymentSettingsSpec) -> bool:
    return spec.offer_as_optional is not None or spec.days_until_forced_reboot is not None


def stored_update(rollout: Rollout) -> UpdateRef:
    """The update the rollout was created for, as the caller named it."""
    record = rollout.settings.get("update", {})
    if record.get("kind") == "quality":
        return QualityUpdateRef.model_validate(record)
    return FeatureUpdateRef.model_validate(record)


async def patch_rollout(
    services: RolloutServices, context: ChangeContext, rollout: Rollout, body: RolloutPatch
) -> None:
    """JSON merge patch of name and settings; settings changes go to Graph first."""
    if "update" in body.model_fields_set:
        raise UpdateImmutable(
            "A rollout's update cannot change; create a new rollout instead.",
            errors=[FieldError(field="update", message="cannot be changed")],
        )
    check_ticket(services, context)
    patch = body.changes()
    name = patch.get("name", rollout.name)
    current = {k: rollout.settings.get(k) for k in SETTINGS_FIELDS}
    merged = merge_patch(current, {k: patch[k] for k in SETTINGS_FIELDS if k in patch})
    settings = _validated_settings(_present(merged))
    new_settings = requested_settings(settings)
    await refresh_state(services, rollout)
    ensure_actionable(rollout)
    settings_changed = new_settings != current
    name_changed = name != rollout.name
    if not settings_changed and not name_changed:
        return
    audit = AuditRecorder(services.uow, context)
    detail = {"patch": patch, "before": {"name": rollout.name, **current}}
    if not settings_changed:
        rollout.name = name
        audit.record(
            action="rollout.update", outcome="succeeded", rollout_id=rollout.id, detail=detail
        )
        return
    update = stored_update(rollout)
    entry = await resolve_update(services.catalog, update)
    check_settings_for(settings, entry, services.clock())
    before = deployment_settings(_validated_settings(_present(current)), update)
    spec = _settings_patch(before, deployment_settings(settings, update))
    assert rollout.graph_deployment_id is not None
    deployment_id = rollout.graph_deployment_id

    async def call() -> GraphResult[Deployment | None]:
        return await services.graph.update_settings(deployment_id, spec, rollout.update_kind)  # type: ignore[arg-type]

    async def succeeded(deployment: Deployment | None) -> dict[str, Any]:
        rollout.name = name
        rollout.settings = {"update": rollout.settings.get("update"), **new_settings}
        if deployment is not None and deployment.state is not None:
            # A settings change can change the state (a raised threshold lifts a monitoring
            # pause): keep Graph's answer, so the change is not later taken for an outside one.
            rollout.graph_state = graph_state_record(deployment, services.clock())
        return {"after": {"name": rollout.name, **new_settings}}

    await audit.graph_write(
        action="rollout.update",
        rollout_id=rollout.id,
        detail=detail,
        call=call,
        on_success=succeeded,
    )
