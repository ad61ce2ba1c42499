"""Routes of /v1/audit: the audit log as pages of JSON or CSV, and single events."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import UowDep
from app.api.problems import problem_responses
from app.api.security import READER
from app.api_types import (
    ACTION_MAX_LENGTH,
    ACTOR_MAX_LENGTH,
    TICKET_MAX_LENGTH,
    EntraDeviceId,
    Page,
)
from app.audit.csv_export import CSV_MEDIA_TYPE, events_csv, wants_csv
from app.audit.schemas import AuditEventOut, Outcome, Rfc3339
from app.audit.service import MAX_EVENT_ID, AuditFilters, get_event, list_events
from app.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from app.problems import FieldError, NotFound, ValidationFailed

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_CSV_EXAMPLE = (
    "id,at,actor,action,outcome,rolloutId,operationId,ticket,reason,requestId,"
    "graphRequestIds,deviceCount,detail\r\n"
    "1042,2026-11-28T12:00:03Z,svc-servicenow,graph.updateAudience,succeeded,"
    "5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38,c3f1e2d4-6a7b-4c8d-9e0f-1a2b3c4d5e6f,CHG0012399,"
    "Add finance floor 3,7f9c2b1e4d3a4f6b,0f3b6c1e-2a9d-4e7b-8c5f-1d2e3f4a5b6c,2,"
    '"{""addMember"":2,""removeMember"":0}"\r\n'
)
_LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of events: JSON, or CSV with `Accept: text/csv`",
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
        "headers": {
            "Link": {
                "description": 'CSV only: `<url of the next page>; rel="next"`, absent on the'
                " last page",
                "schema": {"type": "string"},
            },
            "X-Next-Cursor": {
                "description": "CSV only: the `nextCursor` of the page, absent on the last page",
                "schema": {"type": "string"},
            },
        },
    },
    **problem_responses(400, 422),
}


class AuditEventNotFound(NotFound):
    type = "urn:problem:audit-event-not-found"
    title = "No such audit event"


@router.get(
    "/events",
    dependencies=[READER],
    summary="List audit events",
    response_model=Page[AuditEventOut],
    responses=_LIST_RESPONSES,
)
async def list_audit_events(
    request: Request,
    response: Response,
    uow: UowDep,
    rolloutId: Annotated[
        uuid.UUID | None, Query(description="events of this rollout (a UUID, else 422)")
    ] = None,
    ticket: Annotated[str | None, Query(min_length=1, max_length=TICKET_MAX_LENGTH)] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=ACTOR_MAX_LENGTH)] = None,
    deviceId: Annotated[
        EntraDeviceId | None,
        Query(description="events that added, removed, excluded or enrolled this device"),
    ] = None,
    action: Annotated[
        str | None,
        Query(min_length=1, max_length=ACTION_MAX_LENGTH, examples=["audience.update"]),
    ] = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    since: Annotated[
        Rfc3339 | None,
        Query(
            alias="from",
            description="events at or after this RFC 3339 timestamp (with an offset)",
            examples=["2026-11-01T00:00:00Z"],
        ),
    ] = None,
    until: Annotated[
        Rfc3339 | None,
        Query(
            alias="to",
            description="events before this RFC 3339 timestamp (with an offset)",
            examples=["2026-12-01T00:00:00Z"],
        ),
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[AuditEventOut] | Response:
    """Every change made through the service, and every outside change it found, oldest first.

    **Order:** chronological, by ascending `id` (the order events were written). Pages are
    keyset-paged on `id`: following `nextCursor` visits every matching event exactly once,
    and events written while paging appear on later pages, never shifting earlier ones.

    **Filters** combine with AND; omit one to not filter on it (an empty value is 422).
    `ticket`, `actor` and `action` match exactly. `rolloutId` must be a UUID and `deviceId` a
    GUID (any case; ids are compared lower-case), else 422 naming the field. `deviceId` finds
    every event that added, removed, excluded or enrolled the device. `from` is inclusive,
    `to` exclusive; both are RFC 3339 timestamps with an offset (`Z` or `+01:00`), else 422.

    **Device ids:** an event can name up to 100,000 devices. In this list each event carries
    `deviceCount` and only the first 100 ids in `deviceIds`; `GET /v1/audit/events/{id}`
    returns all of them.

    **CSV:** with `Accept: text/csv` (unless the header prefers `application/json` to it) the
    same page is returned as CSV (columns `id, at, actor,
    action, outcome, rolloutId, operationId, ticket, reason, requestId, graphRequestIds`
    (space-separated), `deviceCount, detail` (JSON)). The next page is in the
    `Link: <...>; rel="next"` header and its cursor in `X-Next-Cursor`; both are absent on the
    last page. Text that callers wrote (actor, ticket, reason, request id) and that starts with
    `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that a spreadsheet does
    not run it as a formula.
    """
    if since is not None and until is not None and until < since:
        raise ValidationFailed(
            "`to` is before `from`.",
            errors=[FieldError(field="to", message="must not be before `from`")],
        )
    filters = AuditFilters(
        rollout_id=rolloutId,
        ticket=ticket,
        actor=actor,
        device_id=deviceId,
        action=action,
        outcome=outcome,
        since=since,
        until=until,
    )
    items, next_cursor = await list_events(uow.session, filters, limit=limit, cursor=cursor)
    if wants_csv(request.headers.get("accept")):
        return _csv_response(request, items, next_cursor)
    response.headers["Vary"] = "Accept"
    return Page[AuditEventOut](items=items, nextCursor=next_cursor)


def _csv_response(
    request: Request, items: list[AuditEventOut], next_cursor: str | None
) -> Response:
    """The page as a CSV download, the next page in `Link` and `X-Next-Cursor`."""
    headers = {"Vary": "Accept", "Content-Disposition": 'attachment; filename="audit-events.csv"'}
    if next_cursor is not None:
        next_url = request.url.include_query_params(cursor=next_cursor)
        headers["Link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
        headers["X-Next-Cursor"] = next_cursor
    return Response(events_csv(items), media_type=CSV_MEDIA_TYPE, headers=headers)


@router.get(
    "/events/{eventId}",
    dependencies=[READER],
    summary="Get an audit event",
    responses=problem_responses(404),
)
async def get_audit_event(eventId: str, uow: UowDep) -> AuditEventOut:
    """One audit event in full, with every device id it names (`deviceCount` of them).

    An unknown id, or one that is not an event id (a positive integer), is 404
    `urn:problem:audit-event-not-found`.
    """
    event_id = int(eventId) if eventId.isascii() and eventId.isdigit() else 0
    event = await get_event(uow.session, event_id) if 0 < event_id <= MAX_EVENT_ID else None
    if event is None:
        raise AuditEventNotFound(f"There is no audit event {eventId[:40]!r}.")
    return event
