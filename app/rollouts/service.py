"""What rollout use cases share: their dependencies, the ticket rule, resolving the update."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from app.catalog.service import CatalogService
from app.change_context import ChangeContext
from app.graph.client import GraphClient
from app.graph.wire import CatalogEntry, FeatureUpdateCatalogEntry
from app.problems import FieldError, ValidationFailed
from app.rollouts.errors import (
    TicketRequired,
)
from app.rollouts.schemas import (
    FeatureUpdateRef,
    RolloutSettings,
    UpdateRef,
)
from app.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    import procrastinate

    from app.commands.executor import CommandExecutor

SETTINGS_FIELDS = ("schedule", "monitoring", "userExperience", "safeguards")


@dataclass
class RolloutServices:
    """What rollout use cases work with: one unit of work, Graph, the catalog, the clock, and
    the job queue and command executor their Graph writes go through."""

    uow: UnitOfWork
    graph: GraphClient
    catalog: CatalogService
    clock: Callable[[], datetime]
    require_ticket: bool = False
    queue: procrastinate.App | None = None
    commands: CommandExecutor | None = None


class TicketRule(Protocol):
    """Anything that says whether a ticket is required (the settings, a use case's services)."""

    @property
    def require_ticket(self) -> bool: ...


def check_ticket(rule: TicketRule, context: ChangeContext) -> None:
    """REQUIRE_TICKET: refuse a change that names no ticket."""
    if rule.require_ticket and not context.ticket:
        raise TicketRequired(
            "This service requires a change ticket for every change.",
            errors=[FieldError(field="ticket", message="required")],
        )


def check_settings_for(settings: RolloutSettings, entry: CatalogEntry, now: datetime) -> None:
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


def requested_settings(body: RolloutSettings) -> dict[str, Any]:
    dumped = body.model_dump(mode="json", include=set(SETTINGS_FIELDS), exclude_none=True)
    return {name: dumped.get(name) for name in SETTINGS_FIELDS}
