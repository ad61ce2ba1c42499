"""Queries on rollouts and their audience counts."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audience.models import AudienceDevice
from app.devices.managed import effective_member
from app.pagination import newest_first
from app.problems import NotFound
from app.rollouts.models import Rollout
from app.rollouts.status import RolloutStatus

# The statuses a list filters on directly; `active` ones are filtered on Graph's effective state.
OWN_STATES = frozenset(RolloutStatus) - {RolloutStatus.ACTIVE}


class RolloutNotFound(NotFound):
    type = "urn:problem:rollout-not-found"
    title = "No such rollout"


def parse_rollout_id(value: str) -> uuid.UUID:
    """Our rollout ids are UUIDs; anything else cannot name a rollout."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise RolloutNotFound(f"No rollout has the id {value[:80]!r}.") from None


# Statements of every read of one rollout, built once: building and keying a statement anew
# costs more than running it. The ids are bound parameters.
_BY_ID = select(Rollout).where(Rollout.id == bindparam("rollout_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
# What audience_counts counts: members that are not also exclusions, and exclusions.
_COUNTED_MEMBER = effective_member(AudienceDevice)
_EXCLUSION = AudienceDevice.membership == "excluded"
_RELOAD_COUNTED = (
    select(
        Rollout,
        select(func.count())
        .where(AudienceDevice.rollout_id == Rollout.id, _COUNTED_MEMBER)
        .scalar_subquery(),
        select(func.count())
        .where(AudienceDevice.rollout_id == Rollout.id, _EXCLUSION)
        .scalar_subquery(),
    )
    .where(Rollout.id == bindparam("rollout_id"))
    .execution_options(populate_existing=True)
)
_AUDIENCE_COUNTS = (
    select(AudienceDevice.rollout_id, AudienceDevice.membership, func.count())
    .where(
        AudienceDevice.rollout_id.in_(bindparam("rollout_ids", expanding=True)),
        or_(_EXCLUSION, _COUNTED_MEMBER),
    )
    .group_by(AudienceDevice.rollout_id, AudienceDevice.membership)
)


async def get_or_404(session: AsyncSession, rollout_id: str, *, lock: bool = False) -> Rollout:
    """The rollout, or a 404 problem; `lock` takes a row lock for the rest of the transaction."""
    query = _BY_ID_LOCKED if lock else _BY_ID
    found = await session.execute(query, {"rollout_id": parse_rollout_id(rollout_id)})
    rollout = found.scalar_one_or_none()
    if rollout is None:
        raise RolloutNotFound(f"No rollout has the id {rollout_id}.")
    return rollout


async def locked(session: AsyncSession, rollout_id: uuid.UUID) -> Rollout:
    """The rollout with that id, which must exist, its row locked until the transaction ends."""
    found = await session.execute(_BY_ID_LOCKED, {"rollout_id": rollout_id})
    return found.scalar_one()


async def reload_counted(session: AsyncSession, rollout: Rollout) -> tuple[int, int] | None:
    """Read `rollout`'s row again (into the same object, as session.refresh does) together with
    its audience counts (see audience_counts), in one statement; None if the row is gone."""
    found = await session.execute(_RELOAD_COUNTED, {"rollout_id": rollout.id})
    row = found.one_or_none()
    if row is None:
        return None
    return int(row[1]), int(row[2])


async def lock_if_unchanged(session: AsyncSession, rollout: Rollout) -> Rollout | None:
    """Compare-and-set: lock the rollout's row if it is still as `rollout` was read (same
    `updated_at`) and no change holds it; None if it changed or is being changed now (what the
    caller read is stale, or about to be). FOR NO KEY UPDATE: rows being inserted that refer
    to the rollout (audit events, operations) do not block it."""
    query = (
        select(Rollout)
        .where(Rollout.id == rollout.id, Rollout.updated_at == rollout.updated_at)
        .with_for_update(skip_locked=True, key_share=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def audience_counts(
    session: AsyncSession, rollout_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(members, exclusions) of each rollout, as the service last confirmed them; a device that
    is both counts once, as an exclusion."""
    if not rollout_ids:
        return {}
    rows = await session.execute(_AUDIENCE_COUNTS, {"rollout_ids": rollout_ids})
    counts: dict[uuid.UUID, tuple[int, int]] = {rid: (0, 0) for rid in rollout_ids}
    for rollout_id, membership, count in rows:
        members, exclusions = counts[rollout_id]
        counts[rollout_id] = (count, exclusions) if membership == "member" else (members, count)
    return counts


def _filtered(state: str | None, ticket: str | None, version: str | None) -> Select[Rollout]:
    query = select(Rollout)
    if state is not None:
        if state in OWN_STATES:
            query = query.where(Rollout.status == state)
        else:
            query = query.where(
                Rollout.status == RolloutStatus.ACTIVE,
                Rollout.graph_state["effective"].astext == state,
            )
    if ticket is not None:
        query = query.where(Rollout.ticket == ticket)
    if version is not None:
        query = query.where(func.lower(Rollout.update_version) == version.strip().lower())
    return query


async def list_page(
    session: AsyncSession,
    *,
    state: str | None,
    ticket: str | None,
    version: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Rollout], str | None]:
    """Newest first, keyset-paged on (created_at, id)."""
    query = _filtered(state, ticket, version)
    return await newest_first(session, query, Rollout, limit, cursor)
