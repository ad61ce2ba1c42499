"""The key a request holds while it runs, and the mark that ties the key to the request's
first write (made inside that write's own transaction, so they commit or vanish together)."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.idempotency.models import IdempotencyKey
from app.idempotency.problems import IdempotencyKeyInFlight


@dataclass
class Claim:
    """A held key: its row and the token of the request holding it."""

    id: uuid.UUID
    owner: uuid.UUID
    marked: bool = False


claim_var: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


async def mark_effects(session: AsyncSession) -> None:
    """Before the current request's commit: tie its held key to what the commit writes.

    Refuses (409) if another request took the key over meanwhile, so a key never stands for two
    sets of changes.
    """
    claim = claim_var.get()
    if claim is None or claim.marked:
        return
    marked = await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim.id, IdempotencyKey.owner == claim.owner)
        .values(has_effects=True)
        .returning(IdempotencyKey.id)
    )
    if marked.first() is None:
        raise IdempotencyKeyInFlight(
            "This request's Idempotency-Key was taken over by a retry after its lease ran out;"
            " nothing of this request was recorded."
        )
    claim.marked = True
