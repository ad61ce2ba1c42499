"""Bookkeeping of the devices the service enrolled: recorded, confirmed, left, released, held.

Every statement here is set-based (one statement for any number of devices).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    inspect,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased

from app.audience.models import AudienceDevice
from app.db import string_array, table_of
from app.devices.models import ManagedDevice
from app.operations.models import Operation, OperationItem
from app.rollouts.models import Rollout
from app.unit_of_work import UnitOfWork

UNFINISHED = ("queued", "running")


def active_rollout() -> ColumnElement[bool]:
    """A rollout that can still reach devices: not failed, archived (or asked to be), deleted."""
    return and_(
        Rollout.status.in_(("creating", "active")),
        Rollout.ended_at.is_(None),
        func.coalesce(Rollout.graph_state["requested"].astext, "") != "archived",
        func.coalesce(Rollout.graph_state["effective"].astext, "") != "archived",
    )


def effective_member(row: Any) -> ColumnElement[bool]:
    """`row` is a member that is not also an exclusion of the same rollout (exclusion wins)."""
    excluded = aliased(AudienceDevice)
    return and_(
        row.membership == "member",
        ~exists().where(
            excluded.rollout_id == row.rollout_id,
            excluded.device_id == row.device_id,
            excluded.membership == "excluded",
        ),
    )


def _active_claims(device: Any, category: Any) -> tuple[Select[Any], Select[Any]]:
    """What holds the device in an active rollout of the category: its effective membership
    of one, and an unfinished operation's adding it to one (a row of each, if any)."""
    member = aliased(AudienceDevice)
    confirmed = (
        select(member.rollout_id)
        .join(Rollout, Rollout.id == member.rollout_id)
        .where(
            member.device_id == device,
            effective_member(member),
            Rollout.update_kind == category,
            active_rollout(),
        )
    )
    adding = (
        select(Operation.rollout_id)
        .select_from(OperationItem)
        .join(Operation, Operation.id == OperationItem.operation_id)
        .join(Rollout, Rollout.id == Operation.rollout_id)
        .where(
            OperationItem.device_id == device,
            OperationItem.change == "addMember",
            OperationItem.status.in_(("pending", "sent")),
            Operation.status.in_(UNFINISHED),
            Rollout.update_kind == category,
            active_rollout(),
        )
    )
    return confirmed, adding


def _in_active_rollout(device: Any, category: Any) -> ColumnElement[bool]:
    """The device is an effective member of an active rollout of the category, or is being
    added to one by an unfinished operation."""
    confirmed, adding = _active_claims(device, category)
    return or_(confirmed.exists(), adding.exists())


async def in_active_rollouts(
    uow: UnitOfWork, category: str, device_ids: Sequence[str]
) -> list[str]:
    """Which of the devices are members of (or being added to) an active rollout of the
    category: releasing them would take them out of a rollout that is under way.

    Each device is checked on its own, through the indexes on device_id (a LATERAL subquery
    with LIMIT 1, which PostgreSQL runs once per device). As `WHERE EXISTS (...) OR EXISTS
    (...)`, PostgreSQL 15 hashed both subqueries over every audience row and every item of
    the table instead: 49 ms per chunk of 200 with 81,000 audience rows, a cost that grew with
    every rollout's audience."""
    if not device_ids:
        return []
    wanted = (
        func.unnest(string_array(device_ids))
        .table_valued("device_id")
        .render_derived(name="wanted")
    )
    confirmed, adding = _active_claims(wanted.c.device_id, category)
    claim = union_all(confirmed.correlate(wanted), adding.correlate(wanted)).limit(1)
    query = select(wanted.c.device_id).join(claim.lateral("claim"), true())
    return sorted((await uow.session.execute(query)).scalars())


def _record_enrolled_statement() -> Any:
    """The upsert of record_enrolled, built once: its parameters are bound per call (building
    and keying this statement anew for every chunk cost the API more than running it)."""
    devices = table_of(ManagedDevice)
    rows = select(
        func.unnest(bindparam("device_ids", type_=ARRAY(String))).column_valued("device_id"),
        bindparam("category", type_=devices.c.category.type),
        literal("enrolled", devices.c.status.type),
        bindparam("now", type_=devices.c.enrolled_at.type),
        bindparam("operation_id", type_=devices.c.enrolled_by_operation.type),
        bindparam("rollout_id", type_=devices.c.last_rollout_id.type),
    )
    statement = insert(devices).from_select(
        [
            "device_id",
            "category",
            "status",
            "enrolled_at",
            "enrolled_by_operation",
            "last_rollout_id",
        ],
        rows,
    )
    return statement.on_conflict_do_update(
        index_elements=["device_id", "category"],
        set_={
            "status": "enrolled",
            "enrolled_at": _enrolled_at(statement.excluded.enrolled_at),
            "enrolled_by_operation": statement.excluded.enrolled_by_operation,
            "last_rollout_id": statement.excluded.last_rollout_id,
            "left_at": None,
            "released_at": None,
        },
    )


async def record_enrolled(
    uow: UnitOfWork,
    *,
    category: str,
    device_ids: Sequence[str],
    operation_id: uuid.UUID,
    rollout_id: uuid.UUID | None,
    now: datetime,
) -> None:
    """Graph accepted enrollAssets for these devices: the service now holds them for `category`."""
    if not device_ids:
        return
    # One statement whatever the number of devices: the ids travel as one array parameter.
    # Without autoflush: audit events waiting for the commit (the enrollment's `succeeded`)
    # are then written together with the next ones, in one INSERT, instead of one each.
    with uow.session.no_autoflush:
        await uow.session.execute(
            _RECORD_ENROLLED,
            {
                "device_ids": list(device_ids),
                "category": category,
                "now": now,
                "operation_id": operation_id,
                "rollout_id": rollout_id,
            },
        )


def _enrolled_at(new: ColumnElement[datetime]) -> ColumnElement[datetime]:
    """Keep the first enrollment time unless the device had been released since."""
    return case((ManagedDevice.status == "released", new), else_=ManagedDevice.enrolled_at)


Condition = Callable[[Any], ColumnElement[bool]]
"""A condition on a row of the table being changed (the table itself, or an alias of it)."""


def each_device(
    entity: Any, device_ids: Sequence[str], where: Condition, *, deleting: bool = False
) -> ColumnElement[bool]:
    """The WHERE of an UPDATE (or, `deleting`, a DELETE) of `entity`'s rows whose device is
    among `device_ids` and that match `where`.

    Each device is looked up through an index on device_id on its own, in a LATERAL subquery
    that also locks the rows that match (in device order), which keeps PostgreSQL from merging
    it into a join and re-checks `where` on a row another transaction changed meanwhile; rows
    that match nothing are neither locked nor written. With `device_id = ANY(ids)`, PostgreSQL
    15 read the whole table for a batch of 1,000 while managed_devices held fewer than about
    150,000 devices (8 ms at 81,000 rows, where the lookups take 2.5 ms), and with `where` on
    the written row it could start from a scan of every row `where` seemed to leave out:
    either way a batch cost more as the fleet grew."""
    wanted = (
        func.unnest(string_array(sorted(set(device_ids))))
        .table_valued("device_id")
        .render_derived(name="wanted")
    )
    row = aliased(entity, name="row")
    keys = [column.key for column in inspect(entity).primary_key]
    found = (
        select(*(getattr(row, key) for key in keys))
        .where(row.device_id == wanted.c.device_id, where(row))
        .with_for_update(key_share=not deleting)
        .correlate(wanted)
        .lateral("found")
    )
    return and_(
        entity.device_id == wanted.c.device_id,
        *(getattr(entity, key) == found.c[key] for key in keys),
    )


async def _update_devices(
    uow: UnitOfWork, device_ids: Sequence[str], where: Condition, **values: Any
) -> None:
    """One UPDATE of the managed devices among `device_ids` that match `where`."""
    if not device_ids:
        return
    await uow.session.execute(
        update(ManagedDevice)
        .where(each_device(ManagedDevice, device_ids, where))
        .values(**values)
        # Managed devices are only ever read as columns, never as ORM objects: nothing in the
        # session to bring up to date, so no fetching back every updated row's key.
        .execution_options(synchronize_session=False)
    )


async def record_left(
    uow: UnitOfWork, *, rollout_id: uuid.UUID, device_ids: Sequence[str], now: datetime
) -> None:
    """These devices stopped being members of the rollout that last had them."""
    await _update_devices(
        uow, device_ids, lambda device: device.last_rollout_id == rollout_id, left_at=now
    )


async def record_joined(
    uow: UnitOfWork, *, rollout_id: uuid.UUID, category: str, device_ids: Sequence[str]
) -> None:
    """Graph shows these devices as members of the rollout: it is the one that last had them.
    Devices already recorded so (as their enrollment for this rollout left them) are not
    written again: an UPDATE to the same values would still write a new version of each row."""
    await _update_devices(
        uow,
        device_ids,
        lambda device: and_(
            device.category == category,
            or_(
                device.last_rollout_id.is_distinct_from(rollout_id),
                device.left_at.is_not(None),
            ),
        ),
        last_rollout_id=rollout_id,
        left_at=None,
    )


async def record_released(
    uow: UnitOfWork, *, category: str, device_ids: Sequence[str], now: datetime
) -> None:
    """Graph unenrolled these devices for `category`: normal Windows Update policies apply."""
    if not device_ids:
        return
    await _update_devices(
        uow,
        device_ids,
        lambda device: device.category == category,
        status="released",
        released_at=now,
    )
    # Unenrolling takes the device out of every audience of the category (graph.md).
    of_category = select(Rollout.id).where(Rollout.update_kind == category)
    await uow.session.execute(
        delete(AudienceDevice).where(
            each_device(
                AudienceDevice,
                device_ids,
                lambda member: member.rollout_id.in_(of_category),
                deleting=True,
            )
        )
    )


async def remove_from_audience(
    uow: UnitOfWork, rollout_id: uuid.UUID, membership: str, device_ids: Sequence[str]
) -> None:
    """Graph no longer lists these devices among the rollout's members (or exclusions)."""
    if not device_ids:
        return
    await uow.session.execute(
        delete(AudienceDevice).where(
            each_device(
                AudienceDevice,
                device_ids,
                lambda row: and_(row.rollout_id == rollout_id, row.membership == membership),
                deleting=True,
            )
        )
    )


def held_condition(category: str) -> ColumnElement[bool]:
    """Enrolled by the service for `category` and in no active rollout of it."""
    return and_(
        ManagedDevice.category == category,
        ManagedDevice.status == "enrolled",
        ~_in_active_rollout(ManagedDevice.device_id, ManagedDevice.category),
    )


async def held_members_of(uow: UnitOfWork, rollout: Rollout) -> list[str]:
    """The rollout's members that the service enrolled and that no active rollout of the
    category has: what stays held once this rollout has ended."""
    query = (
        select(ManagedDevice.device_id)
        .join(
            AudienceDevice,
            and_(
                AudienceDevice.device_id == ManagedDevice.device_id,
                AudienceDevice.rollout_id == rollout.id,
                effective_member(AudienceDevice),
            ),
        )
        .where(held_condition(rollout.update_kind))
        .order_by(ManagedDevice.device_id)
    )
    return list((await uow.session.execute(query)).scalars())


_RECORD_ENROLLED = _record_enrolled_statement()
