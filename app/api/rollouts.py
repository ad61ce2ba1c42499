"""Routes of /v1/rollouts: create, list, read, change, pause, resume, archive, delete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response

from app.api.deps import AppStateDep, UowDep, change_context
from app.api.examples import ARCHIVE_REQUEST, CHANGE_REQUEST, CREATE_ROLLOUT, PATCH_ROLLOUT
from app.api.problems import problem_responses
from app.api.review import DRY_RUN, ReviewAnswer, dry_run_response, listed, reviewed
from app.api.security import READER, AdminDep, OperatorDep
from app.api_types import Page, Reason, Ticket
from app.change_context import ChangeContext
from app.db_reads import reading_only
from app.operations.queueing import queue_operation
from app.operations.views import operation_out
from app.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from app.review.dry_run import DryRun, Plan
from app.rollouts import repository
from app.rollouts.create import create_rollout
from app.rollouts.drift import find_drift
from app.rollouts.drift_schemas import DriftReport
from app.rollouts.ending import release_or_warn
from app.rollouts.lifecycle import change_state, delete_rollout, read_rollout
from app.rollouts.models import Rollout
from app.rollouts.patch import patch_rollout
from app.rollouts.schemas import (
    ArchiveRequest,
    ChangeRequest,
    RolloutCreate,
    RolloutOut,
    RolloutPatch,
)
from app.rollouts.service import RolloutServices
from app.rollouts.views import rollout_out
from app.state import AppState
from app.unit_of_work import UnitOfWork

router = APIRouter(prefix="/v1/rollouts", tags=["rollouts"])

CreateUow = Annotated[UnitOfWork, reviewed("create", listed("devices", "exclusions"))]
PatchUow = Annotated[UnitOfWork, reviewed("patch")]
ArchiveUow = Annotated[UnitOfWork, reviewed("archive")]
DeleteUow = Annotated[UnitOfWork, reviewed("delete")]

GRAPH = (502, 503, 504)
StateFilter = Literal[
    "creating", "scheduled", "offering", "paused", "faulted", "archived", "failed", "deleted"
]


def services_for(state: AppState, uow: UnitOfWork) -> RolloutServices:
    """The rollout use cases' dependencies for this request."""
    return RolloutServices(
        uow=uow,
        graph=state.graph,
        catalog=state.catalog,
        clock=state.clock,
        require_ticket=state.settings.require_ticket,
        queue=state.queue,
        commands=uow.dry_run.executor(uow) if uow.dry_run is not None else state.commands,
    )


async def _out(uow: UnitOfWork, rollout: Rollout) -> RolloutOut:
    """The rollout as recorded now (a command's executor changed its row in a transaction of
    its own; the database sets the timestamps) with its audience counts, in one statement.
    After the request's commit that statement runs without a transaction: one round trip."""
    session = uow.session
    if uow.dry_run is None and not session.in_transaction():
        await reading_only(session)
    else:
        await session.flush()
    counts = await repository.reload_counted(session, rollout)
    if counts is None:  # rows are never deleted by the service
        raise RuntimeError(f"rollout {rollout.id} vanished")
    return rollout_out(rollout, counts)


@router.post(
    "",
    status_code=201,
    name="create_rollout",
    summary="Create a rollout",
    responses=problem_responses(400, 409, 413, 422, *GRAPH),
)
async def create_rollout_route(
    body: Annotated[RolloutCreate, Body(openapi_examples=CREATE_ROLLOUT)],
    response: Response,
    state: AppStateDep,
    uow: CreateUow,
    caller: OperatorDep,
) -> RolloutOut:
    """Deploy one update to a set of devices, on a schedule, under a change ticket.

    The update is named by `version` (resolved through the catalog) or `catalogEntryId`; an
    unknown one is 422 `urn:problem:unknown-update`, an expired one 422
    `urn:problem:update-not-deployable`. `schedule` takes at most one of `waves`, `endBy` and
    `spreadOver` (none: every device is offered at once). Monitoring rules are
    `rollback`+`pause`, `rollback`+`alert` or `ineligible`+`offerFallback` (Windows 11 only).
    Safeguards apply unless `safeguards.enabled` is false.

    `devices` are enrolled in update management for the update's category (except for
    expedited quality updates, which need no enrollment) and added to the audience, and
    `exclusions` are added as exclusions (never enrolled), by an operation returned as
    `audienceOperation`: poll `/v1/operations/{id}`.

    The Graph deployment is created exactly once, even across crashes and timeouts: the intent
    is recorded first, and a pre-created audience identifies the deployment afterwards.
    """
    context = change_context(caller, body.ticket, body.reason)
    rollout, operation = await create_rollout(services_for(state, uow), context, body)
    response.headers["Location"] = f"/v1/rollouts/{rollout.id}"
    result = await _out(uow, rollout)
    if operation is not None:  # queued by the create command once Graph has the deployment
        await uow.session.refresh(operation)
        result.audienceOperation = await operation_out(uow.session, operation)
    return result


@router.get(
    "", dependencies=[READER], summary="List rollouts", responses=problem_responses(400, 422)
)
async def list_rollouts(
    uow: UowDep,
    state: Annotated[StateFilter | None, Query(description="effective state")] = None,
    ticket: Annotated[str | None, Query(max_length=128)] = None,
    version: Annotated[str | None, Query(max_length=200)] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[RolloutOut]:
    """Rollouts, newest first. `state` filters on the state Graph last reported (every read of
    a single rollout refreshes it); `version` matches the update's version, case-insensitively."""
    rows, next_cursor = await repository.list_page(
        uow.session, state=state, ticket=ticket, version=version, limit=limit, cursor=cursor
    )
    counts = await repository.audience_counts(uow.session, [r.id for r in rows])
    return Page[RolloutOut](
        items=[rollout_out(r, counts[r.id]) for r in rows], nextCursor=next_cursor
    )


@router.get(
    "/{rolloutId}",
    dependencies=[READER],
    summary="Get a rollout",
    responses=problem_responses(404, *GRAPH),
)
async def get_rollout(rolloutId: str, state: AppStateDep, uow: UowDep) -> RolloutOut:
    """One rollout, with its state read from Graph now: `effective` (scheduled, offering,
    paused, faulted, archived), `requested` (none, paused, archived) and Graph's `reasons`.
    A change Graph reports that the service did not make is recorded in the audit log.
    Reads take no lock: a change made while Graph is read wins over what the read saw."""
    rollout, counts = await read_rollout(services_for(state, uow), rolloutId)
    if rollout in uow.session.dirty:
        return await _out(uow, rollout)  # what Graph showed is being recorded: write, re-read
    if counts is None:  # the row changed while Graph was read: the newer record stands
        counts = (await repository.audience_counts(uow.session, [rollout.id]))[rollout.id]
    # Nothing to write: answer from the row as read, with Graph's state of just now.
    return rollout_out(rollout, counts)


@router.patch(
    "/{rolloutId}",
    name="patch_rollout",
    summary="Change a rollout",
    responses=problem_responses(400, 404, 409, 413, 415, 422, *GRAPH),
)
async def patch_rollout_route(
    rolloutId: str,
    patch: Annotated[RolloutPatch, Body(openapi_examples=PATCH_ROLLOUT)],
    state: AppStateDep,
    uow: PatchUow,
    caller: OperatorDep,
) -> RolloutOut:
    """Change the name or settings: a JSON merge patch (RFC 7396), sent as
    `application/merge-patch+json` or `application/json`. Only the fields given change; `null`
    removes `monitoring`, or turns `safeguards` back on. `schedule` and `userExperience` can be
    changed but, once set, not removed (422: Graph cannot be told). `ticket` and `reason` say
    why and are recorded with the change.

    The update itself cannot change (422 `urn:problem:update-immutable`). Settings changes are
    sent to Graph first; the name lives only in this service. An archived rollout is 409.
    """
    context = change_context(caller, patch.ticket, patch.reason)
    rollout = await repository.get_or_404(uow.session, rolloutId)
    await patch_rollout(services_for(state, uow), context, rollout, patch)
    return await _out(uow, rollout)


def _state_route(action: str, summary: str, description: str) -> None:
    async def handler(
        rolloutId: str,
        state: AppStateDep,
        caller: OperatorDep,
        uow: UnitOfWork = reviewed(action),
        body: Annotated[ChangeRequest | None, Body(openapi_examples=CHANGE_REQUEST)] = None,
    ) -> RolloutOut:
        body = body or ChangeRequest()
        context = change_context(caller, body.ticket, body.reason)
        rollout = await repository.get_or_404(uow.session, rolloutId)
        await change_state(services_for(state, uow), context, rollout, action)
        return await _out(uow, rollout)

    handler.__doc__ = description
    router.add_api_route(
        f"/{{rolloutId}}/{action}",
        handler,
        methods=["POST"],
        summary=summary,
        name=f"{action}_rollout",
        responses=problem_responses(400, 404, 409, 422, *GRAPH),
    )


_state_route(
    "pause",
    "Pause a rollout",
    "Stop offering the update to more devices. Pausing a paused rollout is 200 and changes"
    " nothing; an archived or deleted rollout is 409.",
)
_state_route(
    "resume",
    "Resume a rollout",
    "Offer the update again. A pause by a monitoring rule (`pausedByMonitoring`) does not lift on"
    " request: change or remove the rule. Resuming a running rollout is 200 and changes nothing.",
)


async def _ended_out(
    state: AppState, uow: UnitOfWork, context: ChangeContext, rollout: Rollout, release: bool
) -> RolloutOut:
    """The ended rollout, with the release of its held devices or a warning about them."""
    operation, warnings = await release_or_warn(uow, context, rollout, release=release)
    view = None
    if operation is not None:
        await queue_operation(state.queue, uow, operation)
        await uow.session.flush()
        await uow.session.refresh(operation)
        view = await operation_out(uow.session, operation)
    result = await _out(uow, rollout)
    result.releaseOperation, result.warnings = view, warnings
    return result


@router.post(
    "/{rolloutId}/archive",
    name="archive_rollout",
    summary="Archive a rollout",
    responses=problem_responses(400, 404, 409, 422, *GRAPH),
)
async def archive_rollout_route(
    rolloutId: str,
    state: AppStateDep,
    uow: ArchiveUow,
    caller: OperatorDep,
    body: Annotated[ArchiveRequest | None, Body(openapi_examples=ARCHIVE_REQUEST)] = None,
) -> RolloutOut:
    """End the rollout for good: Graph stops offering it and it can no longer change.
    Archiving an archived rollout is 409.

    The rollout's members stay enrolled in update management for its category; those in no
    other active rollout of the category are then *held*: they receive no update of that
    category at all. With `releaseDevices: true` they are released (unenrolled) by an
    operation returned as `releaseOperation`; otherwise `warnings` says how many stay held.
    """
    body = body or ArchiveRequest()
    context = change_context(caller, body.ticket, body.reason)
    rollout = await repository.get_or_404(uow.session, rolloutId)
    await change_state(services_for(state, uow), context, rollout, "archive")
    return await _ended_out(state, uow, context, rollout, body.releaseDevices)


@router.delete(
    "/{rolloutId}",
    name="delete_rollout",
    summary="Delete a rollout",
    responses=problem_responses(404, 409, 422, *GRAPH),
)
async def delete_rollout_route(
    rolloutId: str,
    state: AppStateDep,
    uow: DeleteUow,
    caller: AdminDep,
    ticket: Annotated[Ticket | None, Query()] = None,
    reason: Annotated[Reason | None, Query()] = None,
    releaseDevices: Annotated[
        bool,
        Query(
            description="also release (unenroll) the rollout's members that are in no other"
            " active rollout of the category; otherwise `warnings` says how many stay held"
        ),
    ] = False,
) -> RolloutOut:
    """Delete the Graph deployment. The rollout and its history stay readable with
    `state.effective = "deleted"`; deleting it again is 200 and changes nothing.

    Its members stay enrolled for the category: see `releaseDevices` and archive."""
    context = change_context(caller, ticket, reason)
    rollout = await repository.get_or_404(uow.session, rolloutId)
    await delete_rollout(services_for(state, uow), context, rollout)
    return await _ended_out(state, uow, context, rollout, releaseDevices)


# ---- reconcile: appended with its own imports --------------------------------------------------


@router.post(
    "/{rolloutId}/reconcile",
    name="reconcile_rollout",
    summary="Compare a rollout with Graph",
    response_model_exclude_none=True,
    responses=problem_responses(400, 404, 409, 422, *GRAPH),
)
async def reconcile_rollout_route(
    rolloutId: str,
    state: AppStateDep,
    caller: OperatorDep,
    body: Annotated[ChangeRequest | None, Body(openapi_examples=CHANGE_REQUEST)] = None,
    dryRun: Annotated[bool, Query(description=DRY_RUN)] = False,
) -> DriftReport:
    """Compare the rollout with Graph now: its state, its settings (with those the service
    would send), its members and its exclusions (with those the service last confirmed).

    Each difference is recorded as an audit event with actor `graph`: `rollout.driftFound`,
    `detail.kind` = `state`, `settings`, `members` or `exclusions`, naming the devices
    concerned (find them with `GET /v1/audit/events?deviceId=`). A difference already recorded
    is not recorded again; `rollout.driftCleared` is recorded once it is gone. Settings and
    audience are never overwritten: correct them with PATCH or an audience change. Graph's
    state is kept, as reading the rollout does. Devices an unfinished operation is changing
    are not compared. The same check runs periodically.

    `ticket` and `reason` go into the events; no ticket is required, as nothing is changed at
    Graph. 409 for a rollout with no Graph deployment (creating, failed or deleted). With
    `dryRun=true` the comparison runs and the events it would record are answered, unrecorded.
    """
    body = body or ChangeRequest()
    context = change_context(caller, body.ticket, body.reason)
    if not dryRun:
        return await find_drift(state.sessionmaker, state.graph, state.clock, rolloutId, context)
    dry_run = DryRun(state.graph.config, state.commands, state.settings.graph_max_ids_per_call)
    await find_drift(state.sessionmaker, state.graph, state.clock, rolloutId, context, dry_run)
    raise ReviewAnswer(dry_run_response(Plan([], dry_run.events)))
