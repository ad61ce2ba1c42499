"""Routes of /v1/audit: the audit log as pages of JSON or CSV, single events, and verifying
its hash chain."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import UowDep
from app.api.problems import problem_responses
from app.api.security import READER, AdminDep
from app.api_types import (
    ACTION_MAX_LENGTH,
    ACTOR_MAX_LENGTH,
    TICKET_MAX_LENGTH,
    EntraDeviceId,
    Page,
)
from app.audit.csv_export import CSV_MEDIA_TYPE, events_csv, wants_csv
from app.audit.schemas import (
    VERIFY_EXAMPLES,
    AuditEventOut,
    BrokenEvent,
    ChainVerification,
    Outcome,
    Rfc3339,
)
from app.audit.service import MAX_EVENT_ID, MAX_SEQ, AuditFilters, get_event, list_events
from app.audit.verify import verify_chain
from app.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from app.problems import FieldError, NotFound, ValidationFailed

router = APIRouter(prefix="/v1/audit", tags=["audit"])
log = logging.getLogger(__name__)

_CSV_EXAMPLE = (
    "id,at,actor,action,outcome,rolloutId,operationId,ticket,reason,requestId,"
    "graphRequestIds,deviceCount,detail,seq,hash,previousHash\r\n"
    "1042,2026-11-28T12:00:03Z,svc-servicenow,graph.updateAudience,succeeded,"
    "5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38,c3f1e2d4-6a7b-4c8d-9e0f-1a2b3c4d5e6f,CHG0012399,"
    "Add finance floor 3,7f9c2b1e4d3a4f6b,0f3b6c1e-2a9d-4e7b-8c5f-1d2e3f4a5b6c,2,"
    '"{""addMember"":2,""removeMember"":0}",1040,'
    "9f2c4e8a1b7d3f6e0a5c9b2d8e4f1a7c3b6d0e9f2a5c8b1d4e7f0a3c6b9d2e5f,"
    "4b1e7d0a3c6f9b2e5d8a1c4f7b0e3d6a9c2f5b8e1d4a7c0f3b6e9d2a5c8f1b4e\r\n"
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

    **Order:** by ascending `seq`, the order in which events were committed (the hash
    chain's order). `id` identifies an event; it is taken when the event is written, so a
    change that commits late can hold a lower `id` than events listed before it, never a
    lower `seq`. Pages are keyset-paged on `seq`: following `nextCursor` visits every matching
    event exactly once, and events committed while paging appear on later pages, never
    shifting earlier ones or landing on pages already read.

    **Chain:** each event carries `seq`, `hash` and `previousHash`;
    `GET /v1/audit/verify` recomputes them.

    **Filters** combine with AND; omit one to not filter on it (an empty value is 422).
    `ticket`, `actor` and `action` match exactly. `rolloutId` must be a UUID and `deviceId` a
    GUID (any case; ids are compared lower-case), else 422 naming the field. `deviceId` finds
    every event that added, removed, excluded or enrolled the device. `from` is inclusive,
    `to` exclusive; both are RFC 3339 timestamps with an offset (`Z` or `+01:00`), else 422.

    **Device ids:** an event can name up to 100,000 devices. In this list each event carries
    `deviceCount` and only the first 100 ids in `deviceIds`; `GET /v1/audit/events/{id}`
    returns all of them.

    **CSV:** with `Accept: text/csv` (unless the header prefers `application/json` to it) the
    same page is returned as CSV (columns `id, at, actor, action, outcome, rolloutId,
    operationId, ticket, reason, requestId, graphRequestIds` (space-separated), `deviceCount,
    detail` (JSON), `seq, hash, previousHash`). The next page is in the
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


@router.get(
    "/verify",
    summary="Verify the audit log's hash chain",
    response_model=ChainVerification,
    responses={
        200: {
            "description": "The verification: `ok`, or the first event where the chain breaks",
            "content": {"application/json": {"examples": VERIFY_EXAMPLES}},
        },
        **problem_responses(422),
    },
)
async def verify_audit_log(
    caller: AdminDep,
    uow: UowDep,
    fromSeq: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="the first `seq` to check (default 1)"),
    ] = None,
    toSeq: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_SEQ,
            description="the last `seq` to check (default, or when higher: the newest event's)",
        ),
    ] = None,
) -> ChainVerification:
    """Recompute the audit log's hash chain, all of it or the events `fromSeq`…`toSeq`, and
    name the first event where it breaks. Role `admin`.

    Every event has a `seq` (1, 2, 3, … in the order events were committed), a `hash` (SHA-256
    of the event's canonical text, which includes `seq` and `previousHash`; the recipe is in the
    API guide) and a `previousHash` (the `hash` of the event before it; 64 zeros for the first).
    The database refuses to change or delete events; the chain is what shows a change made
    behind its back. Checked, in this order:

    - no `seq` is missing (`gap`: events were deleted);
    - each event in the range hashes to its `hash` (`hashMismatch`: it was changed);
    - each links to the event before it — the first one to the event before the range, the
      event after the range to the range's last (`brokenLink`: the event before was changed
      and its hash recomputed);
    - when the range ends at the newest event: the chain's head, kept by the database with
      every commit, names that event (`headMismatch`: newer events were deleted, or the newest
      was changed and its hash recomputed);
    - no stored event lacks a `seq` (`missingSeq`: written behind the database's triggers).

    The answer is 200 either way: `{"ok": true, "events", "fromSeq", "toSeq", "headHash"}`, or
    `ok: false` with `firstBroken: {"id", "seq", "problem", "message"}` and `events` the number
    checked before it. Keep `toSeq` and `headHash` somewhere the service cannot write: a later
    verification up to the same `toSeq` must answer the same `headHash`, which catches even
    events before it that were changed and the whole chain re-hashed.

    The events are read in batches in `seq` order, each event's hash recomputed by the
    database: any number of events can be checked, in time proportional to their number (use
    ranges to spread a very long log over several calls). A `toSeq` beyond the newest event
    checks up to the newest; an empty range (`fromSeq` beyond the newest event, or above
    `toSeq`) checks no event (`events: 0`).
    """
    result = await verify_chain(uow.session, from_seq=fromSeq, to_seq=toSeq)
    broken = result.first_broken
    if broken is not None:
        log.warning(
            "audit chain broken: %s (%s), verified by %s",
            broken.message,
            broken.problem,
            caller.name,
        )
    return ChainVerification(
        ok=result.ok,
        events=result.events,
        fromSeq=result.from_seq,
        toSeq=result.to_seq,
        headHash=result.head_hash,
        firstBroken=BrokenEvent(
            id=broken.id, seq=broken.seq, problem=broken.problem, message=broken.message
        )
        if broken is not None
        else None,
    )
