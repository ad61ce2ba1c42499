"""Drift: where Graph differs from the service's record of a rollout, found and recorded.

What `find_drift` compares, for a rollout with a Graph deployment:

- state: Graph's effective and requested state and its reasons (as a set) with `graph_state`.
  A difference is recorded and Graph's state is then kept, as reading the rollout does
  (`adopted` in the event); a deployment Graph no longer has makes the rollout `deleted`.
- settings: Graph's settings with the body the service sends for the stored settings
  (translate.deployment_settings + bodies.settings_body), both in one canonical form: no
  `@odata.type`, no null or empty part (an empty rule list is no rule, an empty safeguard opt-out
  list is safeguards on), Graph's defaults left out (`durationBetweenOffers` P1D), durations and
  timestamps normalised, lists compared as sets.
- members and exclusions: the device ids Graph lists with those the service confirmed (a device
  both member and exclusion is in both lists, as Graph lists it). Devices an unfinished operation
  is changing are left out: the operation settles them.

Settings and audience are reported, never changed. A difference is recorded once (a fingerprint
in the event's detail), and `rollout.driftCleared` once it is gone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audience.models import AudienceDevice
from app.audit.models import AuditEvent
from app.audit.recorder import AuditRecorder
from app.change_context import ChangeContext
from app.devices.managed import UNFINISHED, active_rollout
from app.graph.bodies import graph_datetime, settings_body
from app.graph.client import GraphClient
from app.graph.errors import GraphError, GraphNotFound
from app.graph.wire import Deployment
from app.operations.confirmation import read_audience
from app.operations.models import Operation, OperationItem
from app.problems import Conflict
from app.rollouts.drift_schemas import Difference, DriftKind, DriftReport
from app.rollouts.errors import RolloutDeleted, RolloutNotActive
from app.rollouts.models import Rollout
from app.rollouts.patch import stored_update
from app.rollouts.reconcile import RECONCILER
from app.rollouts.repository import get_or_404
from app.rollouts.schemas import RolloutSettings
from app.rollouts.service import SETTINGS_FIELDS
from app.rollouts.status import RolloutStatus
from app.rollouts.translate import deployment_settings
from app.rollouts.views import graph_state_record
from app.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from app.review.dry_run import DryRun

log = logging.getLogger(__name__)

GRAPH = "graph"  # the actor of changes made outside the service
FOUND = "rollout.driftFound"
CLEARED = "rollout.driftCleared"
KINDS: tuple[DriftKind, ...] = ("state", "settings", "members", "exclusions")
DETAIL_IDS = 100  # device ids listed in an event's detail; `device_ids` holds them all
GRAPH_DEFAULTS = {"durationBetweenOffers": "P1D"}  # [doc] rateDrivenRolloutSettings
DURATIONS = frozenset({"durationBetweenOffers", "durationUntilDeploymentEnd"})
TIMESTAMPS = frozenset({"startDateTime", "endDateTime"})
MEMBERSHIP = {"members": "member", "exclusions": "excluded"}
MOVING = {
    "members": ("addMember", "removeMember"),
    "exclusions": ("addExclusion", "removeExclusion"),
}


@dataclass(frozen=True)
class _Record:
    """What the service recorded before Graph was read."""

    deployment_id: str
    settings: dict[str, Any]
    graph_state: dict[str, Any] | None


@dataclass(frozen=True)
class _Seen:
    """What Graph showed; `deployment` None when Graph no longer has it."""

    deployment: Deployment | None
    members: set[str]
    exclusions: set[str]
    deployment_request_ids: list[str]
    audience_request_ids: list[str]

    def request_ids(self, kind: DriftKind) -> list[str]:
        """Graph's request ids of the reads that showed `kind`."""
        audience = kind in ("members", "exclusions")
        return self.audience_request_ids if audience else self.deployment_request_ids


@dataclass(frozen=True)
class _Found:
    """One difference and what its audit event records."""

    difference: Difference
    detail: dict[str, Any]
    device_ids: list[str]


# ---- canonical settings ---------------------------------------------------------------------

DURATION = TypeAdapter(timedelta)
TIMESTAMP = TypeAdapter(datetime)


def _duration(value: Any) -> Any:
    """An ISO 8601 duration in one spelling (PT168H and P7D alike)."""
    try:
        span = DURATION.validate_python(value)
    except ValidationError:
        return value
    hours, rest = divmod(span.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    days = f"{span.days}D" if span.days else ""
    return f"P{days}T{time}" if time else f"P{days}" if days else "PT0S"


def _timestamp(value: Any) -> Any:
    """A timestamp as the service sends it (UTC, Z, whole seconds)."""
    try:
        return graph_datetime(TIMESTAMP.validate_python(value))
    except (ValidationError, ValueError):
        return value


def canonical_settings(value: Any, key: str = "") -> Any:
    """deploymentSettings JSON with `@odata.type`, null and empty parts and Graph's defaults
    left out, durations and timestamps normalised, and lists sorted (they are sets)."""
    if isinstance(value, dict):
        kept = {k: canonical_settings(v, k) for k, v in value.items() if not k.startswith("@")}
        return {
            k: v for k, v in kept.items() if v not in (None, {}, []) and GRAPH_DEFAULTS.get(k) != v
        }
    if isinstance(value, list):
        return sorted((canonical_settings(v) for v in value), key=_json)
    if key in DURATIONS:
        return _duration(value)
    return _timestamp(value) if key in TIMESTAMPS else value


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _changed_paths(expected: Any, found: Any, path: str = "") -> list[str]:
    """The dotted paths where two canonical settings differ."""
    if isinstance(expected, dict) and isinstance(found, dict):
        return [
            changed
            for key in sorted(expected.keys() | found.keys())
            for changed in _changed_paths(
                expected.get(key), found.get(key), f"{path}.{key}" if path else key
            )
        ]
    return [] if expected == found else [path]


def expected_settings(rollout: Rollout) -> dict[str, Any]:
    """The settings body the service sends for the rollout's stored settings, canonical."""
    stored = {
        k: rollout.settings[k] for k in SETTINGS_FIELDS if rollout.settings.get(k) is not None
    }
    spec = deployment_settings(RolloutSettings.model_validate(stored), stored_update(rollout))
    result: dict[str, Any] = canonical_settings(settings_body(spec, rollout.update_kind))
    return result


# ---- differences ----------------------------------------------------------------------------


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(_json(parts).encode()).hexdigest()


def _public_state(record: dict[str, Any] | None) -> dict[str, Any]:
    record = record or {}
    reasons = sorted(record.get("reasons") or [])
    return {
        "effective": record.get("effective"),
        "requested": record.get("requested"),
        "reasons": reasons,
    }


def _compared(kind: DriftKind, expected: dict[str, Any], found: dict[str, Any]) -> _Found | None:
    if expected == found:
        return None
    extra = {"adopted": True} if kind == "state" else {"paths": _changed_paths(expected, found)}
    return _Found(
        Difference(kind=kind, expected=expected, found=found, deviceCount=0),
        {
            "expected": expected,
            "found": found,
            **extra,
            "fingerprint": _fingerprint(kind, expected, found),
        },
        [],
    )


def _state(rollout: Rollout, seen: _Seen, now: datetime) -> _Found | None:
    """Graph's state vs the recorded one; a difference is adopted into the record."""
    observed = (
        graph_state_record(seen.deployment, now)
        if seen.deployment is not None
        else {"effective": "deleted", "requested": None, "reasons": []}
    )
    found = _compared("state", _public_state(rollout.graph_state), _public_state(observed))
    if found is not None:
        _adopt(rollout, seen, observed, now)
    return found


def _adopt(rollout: Rollout, seen: _Seen, observed: dict[str, Any], now: datetime) -> None:
    """Keep the state Graph reported, as lifecycle.refresh_state does."""
    if seen.deployment is None:
        rollout.status, rollout.deleted_at = RolloutStatus.DELETED, now
    else:
        rollout.graph_state = observed
    if seen.deployment is None or observed["effective"] == "archived":
        rollout.ended_at = rollout.ended_at or now


def _audience_found(kind: DriftKind, missing: list[str], extra: list[str]) -> _Found | None:
    if not missing and not extra:
        return None
    return _Found(
        Difference(kind=kind, missing=missing, extra=extra, deviceCount=len(missing) + len(extra)),
        {
            "missing": missing[:DETAIL_IDS],
            "extra": extra[:DETAIL_IDS],
            "missingCount": len(missing),
            "extraCount": len(extra),
            "fingerprint": _fingerprint(kind, missing, extra),
        },
        sorted(missing + extra),
    )


async def _audience(
    session: AsyncSession, rollout: Rollout, seen: _Seen
) -> dict[DriftKind, _Found | None]:
    """Members and exclusions: Graph's lists vs the confirmed ones, less devices in flight."""
    confirmed: dict[str, set[str]] = {"member": set(), "excluded": set()}
    rows = await session.execute(
        select(AudienceDevice.membership, AudienceDevice.device_id).where(
            AudienceDevice.rollout_id == rollout.id
        )
    )
    for membership, device_id in rows:
        confirmed[membership].add(device_id)
    moving = await _in_flight(session, rollout)
    found: dict[DriftKind, _Found | None] = {}
    lists: tuple[tuple[DriftKind, set[str]], ...] = (
        ("members", seen.members),
        ("exclusions", seen.exclusions),
    )
    for kind, listed in lists:
        ours = confirmed[MEMBERSHIP[kind]]
        skip = {d for change, d in moving if change in (*MOVING[kind], "unenroll")}
        found[kind] = _audience_found(
            kind, sorted(ours - listed - skip), sorted(listed - ours - skip)
        )
    return found


async def _in_flight(session: AsyncSession, rollout: Rollout) -> list[tuple[str, str]]:
    """(change, device id) of the items unfinished operations have not settled: changes to
    this rollout's audience, and releases of its category (they leave every audience)."""
    rows = await session.execute(
        select(OperationItem.change, OperationItem.device_id)
        .join(Operation, Operation.id == OperationItem.operation_id)
        .where(
            Operation.status.in_(UNFINISHED),
            OperationItem.status.in_(("pending", "sent")),
            or_(
                Operation.rollout_id == rollout.id,
                and_(
                    OperationItem.change == "unenroll",
                    Operation.update_category == rollout.update_kind,
                ),
            ),
        )
    )
    return [(change, device_id) for change, device_id in rows]


# ---- recording --------------------------------------------------------------------------------


def last_events_query(rollout_id: uuid.UUID) -> Select[AuditEvent]:
    """The newest driftFound / driftCleared event of the rollout, per kind, as a statement."""
    kind = AuditEvent.detail["kind"].astext
    return (
        select(AuditEvent)
        .where(
            AuditEvent.rollout_id == rollout_id,
            AuditEvent.action.in_((FOUND, CLEARED)),
            AuditEvent.seq.is_not(None),  # every committed event; lets the indexes serve
        )
        .order_by(kind, AuditEvent.id.desc())
        .ext(distinct_on(kind))
    )


async def _last_events(session: AsyncSession, rollout_id: uuid.UUID) -> dict[str, AuditEvent]:
    """The newest driftFound / driftCleared event of the rollout, per kind."""
    rows = await session.execute(last_events_query(rollout_id))
    return {str(event.detail.get("kind")): event for event in rows.scalars()}


def _record(
    audit: AuditRecorder,
    rollout_id: uuid.UUID,
    kind: DriftKind,
    found: _Found | None,
    last: AuditEvent | None,
    request_ids: list[str],
    context: dict[str, Any],
) -> AuditEvent | None:
    """driftFound for a difference not recorded yet, driftCleared for one now gone."""
    still_open = last is not None and last.action == FOUND and not last.detail.get("adopted")
    if found is not None:
        if (
            still_open
            and last is not None
            and last.detail.get("fingerprint") == found.detail["fingerprint"]
        ):
            return None
        return audit.record(
            action=FOUND,
            outcome="succeeded",
            rollout_id=rollout_id,
            device_ids=found.device_ids,
            graph_request_ids=request_ids,
            detail={"kind": kind, **found.detail, **context},
        )
    if not still_open or last is None:
        return None
    return audit.record(
        action=CLEARED,
        outcome="succeeded",
        rollout_id=rollout_id,
        device_ids=last.device_ids,
        graph_request_ids=request_ids,
        detail={
            "kind": kind,
            "fingerprint": last.detail.get("fingerprint"),
            "foundEventId": last.id,
            **context,
        },
    )


# ---- the use cases ----------------------------------------------------------------------------


def _deployed(rollout: Rollout) -> _Record:
    """What the comparison needs of the rollout; 409 unless Graph has a deployment for it."""
    if rollout.status == "deleted":
        raise RolloutDeleted(f"Rollout {rollout.id} was deleted; Graph has no deployment.")
    if rollout.status != "active" or rollout.graph_deployment_id is None:
        raise RolloutNotActive(
            f"Rollout {rollout.id} is {rollout.status}; Graph has no deployment."
        )
    return _Record(rollout.graph_deployment_id, dict(rollout.settings), rollout.graph_state)


async def _read_graph(graph: GraphClient, deployment_id: str, rollout_id: str) -> _Seen:
    """The deployment and its audience (all pages) as Graph has them now."""
    try:
        deployment = await graph.get_deployment(deployment_id)
        audience = await read_audience(graph, deployment_id, members=True, exclusions=True)
    except GraphNotFound as gone:
        return _Seen(None, set(), set(), list(gone.request_ids), [])
    except GraphError as error:
        error.context.setdefault("rolloutId", rollout_id)
        raise
    return _Seen(
        deployment.value,
        {device_id.lower() for device_id in audience.members or {}},
        {device_id.lower() for device_id in audience.exclusions or set()},
        deployment.request_ids,
        audience.request_ids,
    )


async def _compare(
    uow: UnitOfWork,
    rollout: Rollout,
    before: _Record,
    seen: _Seen,
    context: ChangeContext,
    now: datetime,
) -> tuple[list[_Found], list[AuditEvent], list[DriftKind]]:
    """The differences, the events recording them, and the parts not checked this time."""
    if rollout.status != "active" or rollout.graph_deployment_id != before.deployment_id:
        return [], [], list(KINDS)
    not_checked: list[DriftKind] = []
    if rollout.graph_state != before.graph_state:
        not_checked.append("state")
    if rollout.settings != before.settings:
        not_checked.append("settings")
    found: dict[DriftKind, _Found | None] = {}
    if seen.deployment is not None:
        if "settings" not in not_checked:
            graph_settings = canonical_settings(seen.deployment.settings or {})
            found["settings"] = _compared("settings", expected_settings(rollout), graph_settings)
        found.update(await _audience(uow.session, rollout, seen))
    if "state" not in not_checked:
        found["state"] = _state(rollout, seen, now)
    last = await _last_events(uow.session, rollout.id)
    audit = AuditRecorder(
        uow,
        ChangeContext(
            actor=GRAPH, ticket=context.ticket, reason=context.reason, request_id=context.request_id
        ),
    )
    about = {"checkedBy": context.actor, "graphDeploymentId": before.deployment_id}
    events = [
        event
        for kind in KINDS
        if kind in found
        and (
            event := _record(
                audit, rollout.id, kind, found[kind], last.get(kind), seen.request_ids(kind), about
            )
        )
    ]
    return [f for kind in KINDS if (f := found.get(kind)) is not None], events, not_checked


async def find_drift(
    sessionmaker: async_sessionmaker[AsyncSession],
    graph: GraphClient,
    clock: Callable[[], datetime],
    rollout_id: str,
    context: ChangeContext,
    dry_run: DryRun | None = None,
) -> DriftReport:
    """Compare one rollout with Graph now; record each new difference and each one now gone
    (with `dry_run`, the events are only collected there: nothing is recorded).

    The record is read in one short transaction, Graph with no connection held, and the events
    are written in a second one that re-reads the record under a row lock: a part the service
    changed in between (state, settings) is left to the next check (`notChecked`). `context`
    says who asked: its ticket, reason and request id go into the events, whose actor is
    `graph`. Raises 404 / 409 problems and GraphError.
    """
    async with sessionmaker() as session:
        before = _deployed(await get_or_404(session, rollout_id))
    checked_at = clock()
    seen = await _read_graph(graph, before.deployment_id, rollout_id)
    async with sessionmaker() as session:
        uow = UnitOfWork(session, dry_run)
        rollout = await get_or_404(session, rollout_id, lock=True)
        found, events, not_checked = await _compare(uow, rollout, before, seen, context, checked_at)
        checked_id = str(rollout.id)
        await uow.commit()
        if dry_run is not None:
            await uow.rollback()
            events = []
    return DriftReport(
        rolloutId=checked_id,
        checkedAt=checked_at,
        differences=[f.difference for f in found],
        auditEventIds=[event.id for event in events],
        notChecked=not_checked,
    )


async def reconcile_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    graph: GraphClient,
    clock: Callable[[], datetime],
) -> int:
    """find_drift over every rollout with a deployment that has not ended, one at a time (a
    rollout Graph fails on is logged and skipped); returns how many had differences."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Rollout.id)
            .where(Rollout.status == "active", active_rollout())
            .order_by(Rollout.created_at, Rollout.id)
        )
        rollout_ids = list(rows.scalars())
    context = ChangeContext(actor=RECONCILER, ticket=None, reason=None, request_id=None)
    drifted = 0
    for rollout_id in rollout_ids:
        try:
            report = await find_drift(sessionmaker, graph, clock, str(rollout_id), context)
        except GraphError as error:
            log.warning("drift check of rollout %s skipped: %s", rollout_id, error)
            continue
        except Conflict:  # deleted or failed since the list was read
            continue
        drifted += bool(report.differences)
    return drifted
