"""Creating a rollout: its Graph deployment exactly once, even across crashes."""

from __future__ import annotations

from collections.abc import Sequence

from app.audience.service import accept_audience_change
from app.change_context import ChangeContext
from app.commands import kinds
from app.commands.run import run_command
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


async def create_rollout(
    services: RolloutServices, context: ChangeContext, body: RolloutCreate
) -> tuple[Rollout, Operation | None]:
    """Create the Graph deployment behind a new rollout, so that it can never exist twice.

    Order: validate everything (no write) → record the intent (rollout `creating`, the create
    command, audit `requested`, the devices' operation; one commit) → the command executor
    creates a standalone audience and records its id → creates the deployment with that
    audience → records the outcome. After a crash or an ambiguous failure, the command runs
    again after its lease and the audience id identifies our deployment: it is adopted.
    """
    check_ticket(services, context)
    entry = await resolve_update(services.catalog, body.update)
    check_settings_for(body, entry, services.clock())
    deployment_settings(body, body.update)  # what Graph would refuse fails here, before any row

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
        # deployment (right after this request, or once a retry adopts it).
        if body.devices or body.exclusions:
            changes: dict[str, Sequence[str]] = {
                "addMember": body.devices,
                "addExclusion": body.exclusions,
            }
            operations.append(await accept_audience_change(services.uow, context, rollout, changes))

    await run_command(
        services,
        context,
        rollout,
        kind=kinds.CREATE,
        action="rollout.create",
        payload={
            "catalogEntryId": entry.id,
            "update": update_record,
            "settings": requested_settings(body),
        },
        detail={
            "request": body.model_dump(mode="json", exclude={"devices", "exclusions"}),
            "devices": len(body.devices),
            "exclusions": len(body.exclusions),
            "catalogEntryId": entry.id,
        },
        with_intent=accept_devices,
    )
    return rollout, (operations[0] if operations else None)
