"""Creating a rollout: its Graph deployment exactly once, even across crashes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.audience.service import accept_audience_change
from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.graph.errors import GraphError
from app.graph.results import GraphResult
from app.graph.specs import ContentSpec
from app.graph.wire import Deployment
from app.operations.abandon import abandon_operation
from app.operations.models import Operation
from app.rollouts.models import Rollout
from app.rollouts.schemas import (
    RolloutCreate,
)
from app.rollouts.service import (
    RolloutServices,
    check_settings_for,
    check_ticket,
    requested_settings,
    resolve_update,
)
from app.rollouts.status import RolloutStatus
from app.rollouts.translate import deployment_settings
from app.rollouts.views import graph_state_record


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
    check_settings_for(body, entry, services.clock())
    spec = deployment_settings(body, body.update)
    content = ContentSpec(catalog_entry_id=entry.id, kind=body.update.kind)

    update_record = body.update.model_dump(mode="json", exclude_none=True)
    rollout = Rollout(
        status=RolloutStatus.CREATING,
        name=body.name,
        ticket=context.ticket,
        reason=context.reason,
        update_kind=body.update.kind,
        catalog_entry_id=entry.id,
        update_version=getattr(entry, "version", None),
        update_display_name=entry.display_name,
        build_number=getattr(entry, "build_number", None),
        settings={"update": update_record, **requested_settings(body)},
        created_by=context.actor,
    )
    services.uow.session.add(rollout)
    await services.uow.session.flush()
    operations: list[Operation] = []

    async def accept_devices() -> None:
        # Committed with the intent, so the devices are never lost; applied once Graph has the
        # deployment (right after this request, or after reconciliation adopts it).
        if body.devices or body.exclusions:
            changes: dict[str, Sequence[str]] = {
                "addMember": body.devices,
                "addExclusion": body.exclusions,
            }
            operations.append(await accept_audience_change(services.uow, context, rollout, changes))

    audit = AuditRecorder(services.uow, context)

    async def create() -> GraphResult[Deployment]:
        audience = await services.graph.create_audience()
        rollout.graph_audience_id = audience.value.id
        await services.uow.commit()
        created = await services.graph.create_deployment(content, spec, audience.value.id)
        return GraphResult(created.value, audience.request_ids + created.request_ids)

    async def succeeded(deployment: Deployment) -> dict[str, Any]:
        rollout.graph_deployment_id = deployment.id
        rollout.status = RolloutStatus.ACTIVE
        rollout.graph_state = graph_state_record(deployment, services.clock())
        return {"graphDeploymentId": deployment.id, "graphAudienceId": rollout.graph_audience_id}

    async def failed(error: GraphError) -> None:
        # An ambiguous failure may have created it: stay `creating` for reconciliation.
        rollout.status = RolloutStatus.CREATING if error.outcome_unknown else RolloutStatus.FAILED
        if rollout.status == RolloutStatus.FAILED:
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
