"""GET /v1/audit/events: filters, keyset paging, truncated device ids, CSV export, single
events, and the database refusing to change history.

Events come from two sources, and each test says which: real ones, written by creating
rollouts through /v1; and rows inserted straight into audit_events through the app's
sessionmaker, where a test needs values the API cannot produce on demand (another actor, a
chosen timestamp, 250 devices)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.audit.csv_export import COLUMNS, safe_cell
from app.audit.models import AuditEvent
from tests.api.helpers import W11_24H2, device_ids

PROBLEM = "application/problem+json"
ITEM_KEYS = {
    "id",
    "at",
    "actor",
    "action",
    "outcome",
    "rolloutId",
    "operationId",
    "intentId",
    "ticket",
    "reason",
    "requestId",
    "graphRequestIds",
    "deviceCount",
    "deviceIds",
    "detail",
    "seq",
    "hash",
    "previousHash",
}
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


async def create_rollout(
    client: httpx.AsyncClient, app: FastAPI, ticket: str, devices: list[str]
) -> str:
    """A rollout made through the API, its audience operation finished; its id."""
    response = await client.post(
        "/v1/rollouts",
        json={
            "name": f"rollout {ticket}",
            "ticket": ticket,
            "update": {"kind": "feature", "version": W11_24H2},
            **({"devices": devices} if devices else {}),
        },
    )
    assert response.status_code == 201, response.text
    await app.state.services.operations.idle()
    return str(response.json()["id"])


async def insert_events(app: FastAPI, *events: dict[str, Any]) -> list[int]:
    """Insert audit rows directly (labelled: not through the API); their ids, in order."""
    rows = [
        AuditEvent(
            **{
                "actor": "svc-test",
                "action": "test.action",
                "outcome": "succeeded",
                "device_ids": [],
                "graph_request_ids": [],
                "detail": {},
                **event,
            }
        )
        for event in events
    ]
    async with app.state.services.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


async def all_rows(app: FastAPI) -> list[AuditEvent]:
    """Every audit row, in chain (commit) order: the oracle the API's answers are checked
    against."""
    async with app.state.services.sessionmaker() as session:
        return list((await session.execute(select(AuditEvent).order_by(AuditEvent.seq))).scalars())


async def listed(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every item of a filtered listing, following cursors."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/audit/events", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            return items


async def expect_ids(
    client: httpx.AsyncClient,
    app: FastAPI,
    params: dict[str, Any],
    predicate: Callable[[AuditEvent], bool],
) -> list[dict[str, Any]]:
    """The listing with `params` holds exactly the rows `predicate` picks, in seq order."""
    expected = [row.id for row in await all_rows(app) if predicate(row)]
    items = await listed(client, **params)
    assert expected, "the test data must contain matching events"
    assert [item["id"] for item in items] == expected
    return items


def as_json_item(row: AuditEvent) -> dict[str, Any]:
    """The list item the API must return for a row with at most 100 device ids."""
    return {
        "id": row.id,
        "at": row.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "actor": row.actor,
        "action": row.action,
        "outcome": row.outcome,
        "rolloutId": str(row.rollout_id) if row.rollout_id else None,
        "operationId": str(row.operation_id) if row.operation_id else None,
        "intentId": row.intent_id,
        "ticket": row.ticket,
        "reason": row.reason,
        "requestId": row.request_id,
        "graphRequestIds": row.graph_request_ids,
        "deviceCount": len(row.device_ids),
        "deviceIds": row.device_ids,
        "detail": row.detail,
        "seq": row.seq,
        "hash": row.hash,
        "previousHash": row.previous_hash,
    }


# --- real events, written by the API ---------------------------------------------------------


async def test_events_of_real_rollouts_are_listed_in_commit_order_in_full(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    rollout_id = await create_rollout(client, app, "CHG1", device_ids(2))

    response = await client.get("/v1/audit/events")

    assert response.status_code == 200
    body = response.json()
    assert body["nextCursor"] is None
    rows = await all_rows(app)
    assert body["items"] == [as_json_item(row) for row in rows]
    assert all(set(item) == ITEM_KEYS for item in body["items"])
    assert [item["seq"] for item in body["items"]] == list(range(1, len(rows) + 1))
    actions = {(i["action"], i["outcome"]) for i in body["items"] if i["rolloutId"] == rollout_id}
    assert {("rollout.create", "requested"), ("rollout.create", "succeeded")} <= actions
    assert ("audience.update", "succeeded") in actions
    assert all(i["actor"] == "anonymous" for i in body["items"])


async def test_rollout_ticket_and_device_filters_find_exactly_the_matching_real_events(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first, second = device_ids(2), device_ids(1)
    rollout_a = await create_rollout(client, app, "CHG1", first)
    rollout_b = await create_rollout(client, app, "CHG2", second)

    by_rollout = await expect_ids(
        client, app, {"rolloutId": rollout_b}, lambda r: str(r.rollout_id) == rollout_b
    )
    assert {i["rolloutId"] for i in by_rollout} == {rollout_b}
    by_ticket = await expect_ids(client, app, {"ticket": "CHG1"}, lambda r: r.ticket == "CHG1")
    assert {i["rolloutId"] for i in by_ticket} == {rollout_a}
    # Upper-case input finds the lower-case ids: every event that enrolled or added the device.
    by_device = await expect_ids(
        client, app, {"deviceId": first[0].upper()}, lambda r: first[0] in r.device_ids
    )
    assert {i["action"] for i in by_device} >= {
        "audience.update",
        "devices.enroll",
        "graph.updateAudience",
    }
    assert all(first[0] in i["deviceIds"] for i in by_device)
    # One event per page: the cursor resumes after the last, in the same order.
    paged, cursor = [], None
    while True:
        query = {"deviceId": first[0], "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/v1/audit/events", params=query)).json()
        paged += [i["id"] for i in body["items"]]
        if (cursor := body["nextCursor"]) is None:
            break
    assert paged == [i["id"] for i in by_device]
    assert await listed(client, deviceId=str(uuid.uuid4())) == []
    assert await listed(client, rolloutId=str(uuid.uuid4())) == []


# --- inserted rows: values the API cannot produce on demand ---------------------------------


async def test_actor_action_outcome_and_time_filters(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await insert_events(
        app,
        {"actor": "alice", "action": "rollout.pause", "outcome": "requested", "at": T0},
        {
            "actor": "alice",
            "action": "rollout.pause",
            "outcome": "failed",
            "at": T0 + timedelta(hours=1),
        },
        {
            "actor": "bob",
            "action": "rollout.resume",
            "outcome": "succeeded",
            "at": T0 + timedelta(hours=2),
        },
        {
            "actor": "bob",
            "action": "rollout.pause",
            "outcome": "succeeded",
            "at": T0 + timedelta(days=1),
        },
    )

    await expect_ids(client, app, {"actor": "alice"}, lambda r: r.actor == "alice")
    await expect_ids(
        client, app, {"action": "rollout.pause"}, lambda r: r.action == "rollout.pause"
    )
    await expect_ids(client, app, {"outcome": "succeeded"}, lambda r: r.outcome == "succeeded")
    # `from` inclusive, `to` exclusive; any offset is accepted and compared as an instant.
    await expect_ids(
        client,
        app,
        {"from": "2026-11-01T09:00:00Z", "to": "2026-11-01T12:00:00+02:00"},
        lambda r: T0 + timedelta(hours=1) <= r.at < T0 + timedelta(hours=2),
    )
    await expect_ids(
        client,
        app,
        {"from": "2026-11-01T10:00:00+00:00"},
        lambda r: r.at >= T0 + timedelta(hours=2),
    )
    both = await expect_ids(
        client,
        app,
        {"actor": "bob", "action": "rollout.pause"},
        lambda r: r.actor == "bob" and r.action == "rollout.pause",
    )
    assert len(both) == 1 and both[0]["outcome"] == "succeeded"


async def test_cursor_paging_visits_every_event_exactly_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    inserted = await insert_events(
        app, *({"actor": "alice" if n % 3 else "bob", "ticket": f"T{n}"} for n in range(23))
    )

    for params, expected in (
        ({}, inserted),
        ({"actor": "alice"}, [i for n, i in enumerate(inserted) if n % 3]),
    ):
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            query = {**params, "limit": 5, **({"cursor": cursor} if cursor else {})}
            body = (await client.get("/v1/audit/events", params=query)).json()
            assert 1 <= len(body["items"]) <= 5
            seen += [item["id"] for item in body["items"]]
            pages += 1
            cursor = body["nextCursor"]
            if cursor is None:
                break
        assert seen == expected
        assert pages == -(-len(expected) // 5)


async def test_list_carries_the_first_100_device_ids_and_the_event_carries_all(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    many = [str(uuid.UUID(int=n)) for n in range(1, 251)]
    (event_id,) = await insert_events(app, {"action": "audience.update", "device_ids": many})

    (item,) = (await client.get("/v1/audit/events")).json()["items"]
    full = await client.get(f"/v1/audit/events/{event_id}")

    assert item["deviceCount"] == 250
    assert item["deviceIds"] == many[:100]
    assert full.status_code == 200
    assert full.json() == {**item, "deviceIds": many}
    # The filter searches the whole array, not the part the list shows.
    found = await listed(client, deviceId=many[199])
    assert [i["id"] for i in found] == [event_id]


@pytest.mark.parametrize("event_id", ["999999", "abc", "-1", "1.5", "0", "99999999999999999999"])
async def test_unknown_or_malformed_event_id_is_a_404_problem(
    client: httpx.AsyncClient, app: FastAPI, event_id: str
) -> None:
    await insert_events(app, {})

    response = await client.get(f"/v1/audit/events/{event_id}")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:problem:audit-event-not-found"
    assert body["status"] == 404
    assert body["instance"] == f"/v1/audit/events/{event_id}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rolloutId", "not-a-uuid"),
        ("deviceId", "device-42"),
        ("outcome", "done"),
        ("from", "2026-11-01"),
        ("from", "2026-11-01T08:00:00"),
        ("from", "1700000000"),
        ("to", "yesterday"),
        ("ticket", ""),
        ("limit", "0"),
        ("limit", "501"),
    ],
)
async def test_bad_filters_are_422_problems_naming_the_field(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    response = await client.get("/v1/audit/events", params={field: value})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:problem:validation"
    assert [e["field"] for e in body["errors"]] == [field]


async def test_to_before_from_is_a_422_naming_to(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/audit/events", params={"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "to", "message": "must not be before `from`"}]


@pytest.mark.parametrize("cursor", ["garbage!", "eyJvIjoxfQ", "eyJpIjoiMSJ9"])
async def test_a_cursor_the_service_did_not_make_is_a_400_problem(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get("/v1/audit/events", params={"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["type"] == "urn:problem:invalid-cursor"


async def test_csv_export_is_the_same_page_as_json_with_the_next_link(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    rollout_id = uuid.uuid4()
    await insert_events(
        app,
        {
            "rollout_id": rollout_id,
            "ticket": 'CHG, "quoted"',
            "reason": "line one\nline two – ünïcode",
            "request_id": "req-1",
            "graph_request_ids": ["g-1", "g-2"],
            "device_ids": device_ids(3),
            "detail": {"nested": {"a": [1, 2]}, "text": "x,y"},
        },
        *({"ticket": f"T{n}"} for n in range(4)),
    )
    params = {"limit": 3}

    as_json = (await client.get("/v1/audit/events", params=params)).json()
    as_csv = await client.get("/v1/audit/events", params=params, headers={"Accept": "text/csv"})

    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text, newline="")))
    assert tuple(rows[0]) == COLUMNS
    parsed = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    assert len(parsed) == len(as_json["items"]) == 3
    for row, item in zip(parsed, as_json["items"], strict=True):
        assert row == {
            "id": str(item["id"]),
            "at": item["at"],
            "actor": item["actor"],
            "action": item["action"],
            "outcome": item["outcome"],
            "rolloutId": item["rolloutId"] or "",
            "operationId": item["operationId"] or "",
            "ticket": item["ticket"] or "",
            "reason": item["reason"] or "",
            "requestId": item["requestId"] or "",
            "graphRequestIds": " ".join(item["graphRequestIds"]),
            "deviceCount": str(item["deviceCount"]),
            "detail": row["detail"],
            "seq": str(item["seq"]),
            "hash": item["hash"],
            "previousHash": item["previousHash"],
        }
        assert json.loads(row["detail"]) == item["detail"]
    assert parsed[0]["reason"] == "line one\nline two – ünïcode"
    assert parsed[0]["graphRequestIds"] == "g-1 g-2"

    assert as_csv.headers["x-next-cursor"] == as_json["nextCursor"]
    link = as_csv.headers["link"]
    assert link.endswith('>; rel="next"')
    next_csv = await client.get(link[1 : link.index(">")], headers={"Accept": "text/csv"})
    next_json = await client.get(
        "/v1/audit/events", params={**params, "cursor": as_json["nextCursor"]}
    )
    next_rows = list(csv.DictReader(io.StringIO(next_csv.text, newline="")))
    assert [int(r["id"]) for r in next_rows] == [i["id"] for i in next_json.json()["items"]]
    assert next_json.json()["nextCursor"] is None
    assert "link" not in next_csv.headers and "x-next-cursor" not in next_csv.headers


@pytest.mark.parametrize(
    ("accept", "is_csv"),
    [
        ("text/csv", True),
        ("text/csv, application/json", True),
        ("application/json, text/csv;q=0.5", False),
        ("application/json", False),
        ("*/*", False),
        (None, False),
    ],
)
async def test_accept_chooses_csv_or_json(
    client: httpx.AsyncClient, app: FastAPI, accept: str | None, is_csv: bool
) -> None:
    await insert_events(app, {})
    headers = {"Accept": accept} if accept else {}

    response = await client.get("/v1/audit/events", headers=headers)

    assert response.status_code == 200
    if is_csv:
        assert response.headers["content-type"].startswith("text/csv")
        assert response.text.startswith("id,at,actor,")
    else:
        assert response.headers["content-type"] == "application/json"
        assert len(response.json()["items"]) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ],
)
async def test_audit_events_are_append_only_in_the_database(
    client: httpx.AsyncClient, app: FastAPI, statement: str
) -> None:
    await create_rollout(client, app, "CHG1", [])
    before = (await client.get("/v1/audit/events")).json()["items"]
    assert before

    async with app.state.services.sessionmaker() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement), {"id": before[0]["id"]})
        await session.rollback()

    assert (await client.get("/v1/audit/events")).json()["items"] == before


def test_csv_cells_that_a_spreadsheet_would_run_are_made_inert() -> None:
    assert safe_cell('=HYPERLINK("http://evil")') == '\'=HYPERLINK("http://evil")'
    assert safe_cell("+1") == "'+1"
    assert safe_cell("-2") == "'-2"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("CHG0012345") == "CHG0012345"
    assert safe_cell(None) == ""
