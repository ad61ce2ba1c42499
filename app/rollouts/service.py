"""Rollout use cases: create, read (state from Graph), change settings and state, delete."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from app.audience.service import accept_audience_change
from app.audit.recorder import AuditRecorder
from app.catalog.service import CatalogService
from app.change_context import ChangeContext
from app.graph.client import GraphClient
from app.graph.errors import GraphError, GraphNotFound
from app.graph.results import GraphResult
from app.graph.specs import ContentSpec, DeploymentSettingsSpec, RequestedState
from app.graph.wire import CatalogEntry, Deployment, FeatureUpdateCatalogEntry
from app.operations.abandon import abandon_operation
from app.operations.models import Operation
from app.problems import FieldError, ValidationFailed
from app.rollouts.errors import (
    RolloutArchived,
    RolloutDeleted,
    RolloutNotActive,
    TicketRequired,
    UpdateImmutable,
)
from app.rollouts.merge_patch import merge_patch
from app.rollouts.models import Rollout
from app.rollouts.schemas import (
    FeatureUpdateRef,
    QualityUpdateRef,
    RolloutCreate,
    RolloutSettings,
    UpdateRef,
)
from app.rollouts.translate import deployment_settings
from app.rollouts.views import graph_state_record
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SETTINGS_FIELDS = ("schedule", "monitoring", "userExperience", "safeguards")
PATCHABLE = frozenset({"name", *SETTINGS_FIELDS, "ticket", "reason"})
STATE_ACTIONS: dict[str, RequestedState] = {
    "pause": "paused",
    "resume": "none",
    "archive": "archived",
}


@dataclass
class RolloutServices:
    """What rollout use cases work with: one unit of work, Graph, the catalog, the clock."""

    uow: UnitOfWork
    graph: GraphClient
    catalog: CatalogService
    clock: Callable[[], datetime]
    require_ticket: bool = False


def check_ticket(services: RolloutServices, context: ChangeContext) -> None:
    """REQUIRE_TICKET: refuse a change that names no ticket."""
    if services.require_ticket and not context.ticket:
        raise TicketRequired(
            "This service requires a change ticket for every change.",
            errors=[FieldError(field="ticket", message="required")],
        )


def _check_settings_for(settings: RolloutSettings, entry: CatalogEntry, now: datetime) -> None:
    """Rules that depend on the update or on the time: fallback rules, endBy in the future."""
    errors = []
    windows_11 = isinstance(entry, FeatureUpdateCatalogEntry) and (entry.version or "").startswith(
        "Windows 11"
    )
    for index, rule in enumerate(settings.monitoring or []):
        if rule.action == "offerFallback" and not windows_11:
            errors.append(
                FieldError(
                    field=f"monitoring[{index}]",
                    message="ineligible + offerFallback applies to Windows 11 feature updates only",
                )
            )
    schedule = settings.schedule
    if schedule is not None and schedule.endBy is not None and schedule.endBy <= now:
        errors.append(FieldError(field="schedule.endBy", message="must be in the future"))
    if errors:
        raise ValidationFailed(f"{len(errors)} setting(s) do not fit this update.", errors=errors)


async def resolve_update(catalog: CatalogService, update: UpdateRef) -> CatalogEntry:
    """The catalog entry the rollout names (422 problems for unknown or expired ones)."""
    if isinstance(update, FeatureUpdateRef):
        return await catalog.resolve_feature(version=update.version, entry_id=update.catalogEntryId)
    return await catalog.resolve_quality(entry_id=update.catalogEntryId, expedite=update.expedite)


def _requested_settings(body: RolloutSettings) -> dict[str, Any]:
    dumped = body.model_dump(mode="json", include=set(SETTINGS_FIELDS), exclude_none=True)
    return {name: dumped.get(name) for name in SETTINGS_FIELDS}


async def create_rollout(
    services: RolloutServices, context: ChangeContext, body: RolloutCreate
) -> tuple[Rollout, Operation | None]:
    """Create the Graph deployment behind a new rollout, so that it can never exist twice.

    Order: validate everything (no write) → record the intent (rollout `creating` + audit
    `requested`, committed) → create a standalone audience and record its id (committed) →
    create the deployment with that audience → record the outcome. After a crash or an
    ambiguous failure, the audience id identifies our deployment: reconciliation adopts it.
    """
    check_ticket(services, context)
    entry = await resolve_update(services.catalog, body.update)
    _check_settings_for(body, entry, services.clock())
    spec = deployment_settings(body, body.update)
    content = ContentSpec(catalog_entry_id=entry.id, kind=body.update.kind)

    update_record = body.update.model_dump(mode="json", exclude_none=True)
    rollout = Rollout(
        status="creating",
        name=body.name,
        ticket=context.ticket,
        reason=context.reason,
        update_kind=body.update.kind,
        catalog_entry_id=entry.id,
        update_version=getattr(entry, "version", None),
        update_display_name=entry.display_name,
        build_number=getattr(entry, "build_number", None),
        settings={"update": update_record, **_requested_settings(body)},
        created_by=context.actor,
    )
    services.uow.session.add(rollout)
    await services.uow.session.flush()
    operations: list[Operation] = []

    def accept_devices() -> None:
        # Recorded with the intent, so the devices are never lost; applied once Graph has the
        # deployment (right after this request, or after reconciliation adopts it).
        if body.devices or body.exclusions:
            changes: dict[str, Sequence[str]] = {
                "addMember": body.devices,
                "addExclusion": body.exclusions,
            }
            operations.append(accept_audience_change(services.uow, context, rollout, changes))

    audit = AuditRecorder(services.uow, context)

    async def create() -> GraphResult[Deployment]:
        audience = await services.graph.create_audience()
        rollout.graph_audience_id = audience.value.id
        await services.uow.commit()
        created = await services.graph.create_deployment(content, spec, audience.value.id)
        return GraphResult(created.value, audience.request_ids + created.request_ids)

    async def succeeded(deployment: Deployment) -> dict[str, Any]:
        rollout.graph_deployment_id = deployment.id
        rollout.status = "active"
        rollout.graph_state = graph_state_record(deployment, services.clock())
        return {"graphDeploymentId": deployment.id, "graphAudienceId": rollout.graph_audience_id}

    async def failed(error: GraphError) -> None:
        # An ambiguous failure may have created it: stay `creating` for reconciliation.
        rollout.status = "creating" if error.outcome_unknown else "failed"
        if rollout.status == "failed":
            for operation in operations:
                await abandon_operation(
                    services.uow,
                    operation,
                    code="notAttempted",
                    message=f"not sent: Graph refused to create the deployment ({error.code})",
                    now=services.clock(),
                )

    await audit.graph_write(
        action="rollout.create",
        rollout_id=rollout.id,
        detail={
            "request": body.model_dump(mode="json", exclude={"devices", "exclusions"}),
            "devices": len(body.devices),
            "exclusions": len(body.exclusions),
            "catalogEntryId": entry.id,
        },
        call=create,
        on_success=succeeded,
        on_failure=failed,
        with_intent=accept_devices,
    )
    return rollout, (operations[0] if operations else None)


async def refresh_state(services: RolloutServices, rollout: Rollout) -> Deployment | None:
    """Read the deployment's state from Graph, recording changes made outside the service."""
    if rollout.status != "active" or rollout.graph_deployment_id is None:
        return None
    try:
        deployment = (await services.graph.get_deployment(rollout.graph_deployment_id)).value
    except GraphNotFound as missing:
        _record_external(services, rollout, "rollout.deletedOutside", {}, missing.request_ids)
        rollout.status = "deleted"
        rollout.deleted_at = services.clock()
        return None
    observed = graph_state_record(deployment, services.clock())
    before = rollout.graph_state or {}
    changed = (before.get("effective"), before.get("reasons")) != (
        observed["effective"],
        observed["reasons"],
    )
    if before and changed:
        _record_external(
            services,
            rollout,
            "rollout.stateObserved",
            {"from": _public_state(before), "to": _public_state(observed)},
            (),
        )
    rollout.graph_state = observed
    return deployment


def _public_state(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("effective", "requested", "reasons")}


def _record_external(
    services: RolloutServices,
    rollout: Rollout,
    action: str,
    detail: dict[str, Any],
    request_ids: tuple[str, ...] | list[str],
) -> None:
    """A change Graph reports that the service did not make (monitoring, schedule, deletion)."""
    context = ChangeContext(actor="graph", ticket=None, reason=None, request_id=None)
    AuditRecorder(services.uow, context).record(
        action=action,
        outcome="succeeded",
        rollout_id=rollout.id,
        graph_request_ids=request_ids,
        detail=detail,
    )


def ensure_actionable(rollout: Rollout) -> None:
    """409 unless the rollout has a live Graph deployment that is not archived."""
    if rollout.status == "deleted":
        raise RolloutDeleted(f"Rollout {rollout.id} was deleted; it can only be read.")
    if rollout.status != "active":
        raise RolloutNotActive(
            f"Rollout {rollout.id} is {rollout.status}; Graph has no deployment."
        )
    if (rollout.graph_state or {}).get("effective") == "archived":
        raise RolloutArchived(f"Rollout {rollout.id} is archived; archived rollouts cannot change.")


async def change_state(
    services: RolloutServices, context: ChangeContext, rollout: Rollout, action: str
) -> bool:
    """pause / resume / archive; returns False when it was already so (nothing was done)."""
    check_ticket(services, context)
    await refresh_state(services, rollout)
    ensure_actionable(rollout)
    requested = STATE_ACTIONS[action]
    if action != "archive" and (rollout.graph_state or {}).get("requested") == requested:
        return False
    assert rollout.graph_deployment_id is not None
    deployment_id = rollout.graph_deployment_id

    async def call() -> GraphResult[Deployment | None]:
        return await services.graph.set_requested_state(deployment_id, requested)

    async def succeeded(deployment: Deployment | None) -> dict[str, Any]:
        if deployment is not None and deployment.state is not None:
            rollout.graph_state = graph_state_record(deployment, services.clock())
        else:
            rollout.graph_state = {**(rollout.graph_state or {}), "requested": requested}
        return {"state": _public_state(rollout.graph_state)}

    await AuditRecorder(services.uow, context).graph_write(
        action=f"rollout.{action}",
        rollout_id=rollout.id,
        detail={"requestedState": requested},
        call=call,
        on_success=succeeded,
    )
    return True


def _validated_settings(merged: dict[str, Any]) -> RolloutSettings:
    try:
        return RolloutSettings.model_validate(merged)
    except ValidationError as exc:
        errors = [
            FieldError(
                field=".".join(str(p) for p in e["loc"]),
                message=str(e["msg"]).removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        raise ValidationFailed("The patched rollout is not valid.", errors=errors) from None


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
    services: RolloutServices, context: ChangeContext, rollout: Rollout, patch: dict[str, Any]
) -> None:
    """JSON merge patch of name and settings; settings changes go to Graph first."""
    if "update" in patch:
        raise UpdateImmutable(
            "A rollout's update cannot change; create a new rollout instead.",
            errors=[FieldError(field="update", message="cannot be changed")],
        )
    unknown = sorted(set(patch) - PATCHABLE)
    if unknown:
        raise ValidationFailed(
            f"{len(unknown)} field(s) cannot be patched.",
            errors=[FieldError(field=name, message="unknown field") for name in unknown],
        )
    check_ticket(services, context)
    name = patch.get("name", rollout.name)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationFailed(
            "The name is not valid.",
            errors=[FieldError(field="name", message="a string of 1 to 200 characters")],
        )
    current = {k: rollout.settings.get(k) for k in SETTINGS_FIELDS}
    merged = merge_patch(current, {k: patch[k] for k in SETTINGS_FIELDS if k in patch})
    settings = _validated_settings(_present(merged))
    new_settings = _requested_settings(settings)
    await refresh_state(services, rollout)
    ensure_actionable(rollout)
    settings_changed = new_settings != current
    name_changed = name.strip() != rollout.name
    if not settings_changed and not name_changed:
        return
    audit = AuditRecorder(services.uow, context)
    detail = {"patch": patch, "before": {"name": rollout.name, **current}}
    if not settings_changed:
        rollout.name = name.strip()
        audit.record(
            action="rollout.update", outcome="succeeded", rollout_id=rollout.id, detail=detail
        )
        return
    update = stored_update(rollout)
    entry = await resolve_update(services.catalog, update)
    _check_settings_for(settings, entry, services.clock())
    before = deployment_settings(_validated_settings(_present(current)), update)
    spec = _settings_patch(before, deployment_settings(settings, update))
    assert rollout.graph_deployment_id is not None
    deployment_id = rollout.graph_deployment_id

    async def call() -> GraphResult[Deployment | None]:
        return await services.graph.update_settings(deployment_id, spec, rollout.update_kind)  # type: ignore[arg-type]

    async def succeeded(deployment: Deployment | None) -> dict[str, Any]:
        rollout.name = name.strip()
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


async def delete_rollout(
    services: RolloutServices, context: ChangeContext, rollout: Rollout
) -> bool:
    """Delete the Graph deployment; the rollout stays readable. False if already deleted."""
    check_ticket(services, context)
    await refresh_state(services, rollout)  # a deployment deleted outside is settled, not a 502
    if rollout.status == "deleted":
        return False
    if rollout.status != "active" or rollout.graph_deployment_id is None:
        raise RolloutNotActive(
            f"Rollout {rollout.id} is {rollout.status}; Graph has no deployment."
        )
    deployment_id = rollout.graph_deployment_id

    async def call() -> GraphResult[None]:
        return await services.graph.delete_deployment(deployment_id)

    async def succeeded(_: None) -> dict[str, Any]:
        rollout.status = "deleted"
        rollout.deleted_at = services.clock()
        return {"graphDeploymentId": deployment_id}

    await AuditRecorder(services.uow, context).graph_write(
        action="rollout.delete",
        rollout_id=rollout.id,
        detail={"graphDeploymentId": deployment_id},
        call=call,
        on_success=succeeded,
    )
    return True
