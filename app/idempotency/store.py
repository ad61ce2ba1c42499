"""Claiming a key, storing the response it got, and letting it go: short transactions of
their own, apart from the request's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.idempotency.claim import Claim
from app.idempotency.models import IdempotencyKey

RETENTION = timedelta(hours=24)
"""How long a key answers with its first response; after that it is a new key."""


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Verdict:
    """What to do with a request carrying a key."""

    kind: Literal["run", "replay", "mismatch", "in_flight", "interrupted"]
    claim: Claim | None = None
    response: StoredResponse | None = None
    first_request_id: str | None = None


@dataclass(frozen=True)
class KeyedRequest:
    caller: str
    key: str
    fingerprint: str
    method: str
    path: str
    request_id: str | None


class IdempotencyStore:
    """The idempotency_keys table, as the middleware uses it."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, lease_seconds: float
    ) -> None:
        self.sessionmaker = sessionmaker
        self.lease = timedelta(seconds=lease_seconds)

    async def claim(self, request: KeyedRequest) -> Verdict:
        """Hold the key for this request, or say why not (one transaction; racing requests
        with the same key serialise on its row)."""
        owner = uuid.uuid4()
        async with self.sessionmaker() as session, session.begin():
            now = await _now(session)
            new_id = await self._insert(session, request, owner, now)
            if new_id is not None:
                return Verdict("run", claim=Claim(id=new_id, owner=owner))
            row = (
                await session.execute(
                    select(IdempotencyKey)
                    .where(
                        IdempotencyKey.caller == request.caller,
                        IdempotencyKey.key == request.key,
                    )
                    .with_for_update()
                )
            ).scalar_one()
            if row.expires_at <= now:
                # An expired key is a new key: the old row goes, this request runs.
                await session.delete(row)
                await session.flush()
                replaced = await self._insert(session, request, owner, now)
                assert replaced is not None  # the row holding the key was just deleted
                return Verdict("run", claim=Claim(id=replaced, owner=owner))
            if row.fingerprint != request.fingerprint:
                return Verdict("mismatch", first_request_id=row.request_id)
            if row.response_status is not None:
                return Verdict(
                    "replay",
                    response=StoredResponse(
                        status=row.response_status,
                        headers=[(str(k), str(v)) for k, v in row.response_headers or []],
                        body=row.response_body or b"",
                    ),
                )
            if row.locked_until is not None and row.locked_until > now:
                return Verdict("in_flight", first_request_id=row.request_id)
            if row.has_effects:
                return Verdict("interrupted", first_request_id=row.request_id)
            # Its holder died before writing anything: this request takes the key over.
            row.owner = owner
            row.locked_until = now + self.lease
            row.request_id = request.request_id
            return Verdict("run", claim=Claim(id=row.id, owner=owner))

    async def _insert(
        self, session: AsyncSession, request: KeyedRequest, owner: uuid.UUID, now: datetime
    ) -> uuid.UUID | None:
        """Insert the key held by `owner`; None when the caller already has this key."""
        inserted = await session.execute(
            insert(IdempotencyKey)
            .values(
                id=uuid.uuid4(),
                caller=request.caller,
                key=request.key,
                fingerprint=request.fingerprint,
                method=request.method,
                path=request.path,
                request_id=request.request_id,
                owner=owner,
                locked_until=now + self.lease,
                has_effects=False,
                expires_at=now + RETENTION,
            )
            .on_conflict_do_nothing(index_elements=["caller", "key"])
            .returning(IdempotencyKey.id)
        )
        return inserted.scalar_one_or_none()

    async def finish(self, claim: Claim, response: StoredResponse) -> None:
        """Keep the response if the request wrote anything, else let the key go (a retry then
        runs afresh: nothing happened the first time)."""
        async with self.sessionmaker() as session, session.begin():
            kept = await session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.id == claim.id,
                    IdempotencyKey.owner == claim.owner,
                    IdempotencyKey.has_effects,
                )
                .values(
                    response_status=response.status,
                    response_headers=[list(pair) for pair in response.headers],
                    response_body=response.body,
                    locked_until=None,
                )
                .returning(IdempotencyKey.id)
            )
            if kept.first() is None:
                await self._release(session, claim)

    async def abandon(self, claim: Claim) -> None:
        """The request failed without a response: let the key go unless it wrote something
        (then it stays held until its lease runs out, and retries learn it was interrupted)."""
        async with self.sessionmaker() as session, session.begin():
            await self._release(session, claim)

    @staticmethod
    async def _release(session: AsyncSession, claim: Claim) -> None:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.id == claim.id,
                IdempotencyKey.owner == claim.owner,
                IdempotencyKey.has_effects.is_(False),
            )
        )

    async def purge_expired(self) -> int:
        """Delete keys past their 24 hours; returns how many."""
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                delete(IdempotencyKey)
                .where(IdempotencyKey.expires_at <= func.now())
                .returning(IdempotencyKey.id)
            )
            return len(result.all())


async def _now(session: AsyncSession) -> datetime:
    """The database's clock: every replica agrees on leases and expiry."""
    return (await session.execute(select(func.now()))).scalar_one()
