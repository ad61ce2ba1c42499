"""Opaque cursors for collection paging, and the `limit` rule (1–500, default 50)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.api_types import CURSOR_MAX_LENGTH
from app.problems import ProblemError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description="items per page (1–500)", examples=[50])
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX_LENGTH,
        description="`nextCursor` of the previous page; omit for the first",
    ),
]


class InvalidCursor(ProblemError):
    type = "urn:problem:invalid-cursor"
    title = "The cursor is not valid"
    status = 400


def encode_cursor(position: dict[str, Any]) -> str:
    """Wrap a position (a small JSON object) as an opaque, URL-safe string."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, keys: frozenset[str]) -> dict[str, Any]:
    """The position inside a cursor this service made; InvalidCursor for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise InvalidCursor("Pass back the `nextCursor` of a previous page unchanged.") from exc
    if not isinstance(position, dict) or set(position) != keys:
        raise InvalidCursor("Pass back the `nextCursor` of a previous page unchanged.")
    return position


def offset_page(items: list[Any], limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """A page of an in-memory list, with an offset cursor."""
    offset = 0
    if cursor is not None:
        value = decode_cursor(cursor, keys=frozenset({"o"}))["o"]
        if not isinstance(value, int) or value < 0:
            raise InvalidCursor("Pass back the `nextCursor` of a previous page unchanged.")
        offset = value
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return page, encode_cursor({"o": offset + limit}) if more else None


Row = TypeVar("Row")


async def newest_first(
    session: AsyncSession, query: Select[Row], model: Any, limit: int, cursor: str | None
) -> tuple[list[Row], str | None]:
    """A page of `query`'s `model` rows, newest first, keyset-paged on (created_at, id), and
    the cursor of the next page (None on the last)."""
    if cursor is not None:
        position = decode_cursor(cursor, keys=frozenset({"at", "id"}))
        try:
            at, last_id = datetime.fromisoformat(position["at"]), uuid.UUID(position["id"])
        except (TypeError, ValueError) as exc:
            raise InvalidCursor("Pass back the `nextCursor` of a previous page unchanged.") from exc
        query = query.where(
            or_(model.created_at < at, and_(model.created_at == at, model.id < last_id))
        )
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    if len(rows) <= limit:
        return rows, None
    last: Any = rows[limit - 1]
    return rows[:limit], encode_cursor({"at": last.created_at.isoformat(), "id": str(last.id)})
