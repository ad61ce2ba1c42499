"""Changing a rollout's name and settings with a JSON merge patch."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.commands import kinds
from app.commands.run import run_command
from app.graph.specs import DeploymentSettingsSpec
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


def _validated_settings(merged: dict[str, Any]) -> RolloutSettings:
    try:
        return RolloutSettings.model_validate(merged)
    except ValidationError as exc:
        raise ValidationFailed(
            "The patched rollout is not valid.", errors=field_errors(exc.errors())
        ) from None


def _present(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if v is not None}


def check_removals(before: DeploymentSettingsSpec, after: DeploymentSettingsSpec) -> None:
    """422 for a removal Graph cannot be told.

    Graph keeps every settings part a PATCH leaves out, so a removal must be said explicitly.
    Monitoring can be (an empty rule list: commands.kinds.settings_change) and so can safeguards
    (an empty opt-out list, which every settings PATCH states); Graph's settings body cannot say
    "no schedule" or "default user experience", so those removals are refused rather than
    recorded here while Graph keeps the old value.
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
    check_removals(before, deployment_settings(settings, update))
    await run_command(
        services,
        context,
        rollout,
        kind=kinds.UPDATE,
        action="rollout.update",
        payload={
            "name": name,
            "update": rollout.settings.get("update"),
            "settings": new_settings,
        },
        detail=detail,
    )
