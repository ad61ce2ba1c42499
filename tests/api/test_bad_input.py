"""Bad input never reaches Graph or the database and never yields a 5xx: a NUL in any body
field, query parameter, path parameter or header is a 422 naming it, and nothing is sent to
Graph or written; the limits of the API models are the database's column sizes."""

from __future__ import annotations

import io
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String
from sqlalchemy.exc import DataError, OperationalError

from app.api_types import (
    ACTION_MAX_LENGTH,
    ACTOR_MAX_LENGTH,
    REQUEST_ID_MAX_LENGTH,
)
from app.audit.models import AuditEvent
from app.logging_setup import ConsoleFormatter, JsonFormatter, configure_logging
from app.main import create_app
from app.problems import DatabaseUnavailable
from app.simulator.state import SimulatorState
from app.unit_of_work import UnitOfWork, is_connection_failure
from tests.api.helpers import device_ids, rollout_body, table_counts
from tests.conftest import make_settings

NUL = "\u0000"
PROBLEM = "application/problem+json"
ROLLOUT = "{rollout}"


async def _rollout(client: httpx.AsyncClient) -> str:
    created = await client.post("/v1/rollouts", json=rollout_body(devices=device_ids(2)))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _refused_and_nothing_changed(
    app: FastAPI,
    client: httpx.AsyncClient,
    simulator: SimulatorState,
    request: httpx.Request,
    field: str,
) -> dict[str, Any]:
    """Send `request`; it must be a 422 naming `field`, with no Graph call and no write."""
    await app.state.services.operations.idle()
    counts = await table_counts(app)
    simulator.clear_calls()

    response = await client.send(request)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:problem:validation"
    assert field in {error["field"] for error in problem["errors"]}, problem
    assert simulator.calls == []
    assert await table_counts(app) == counts
    return dict(problem)


# (method, path, JSON body, the field the problem must name)
BODY_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/v1/rollouts", rollout_body(name=f"ring{NUL}1"), "name"),
    ("POST", "/v1/rollouts", rollout_body(ticket=f"CHG{NUL}"), "ticket"),
    ("POST", "/v1/rollouts", rollout_body(reason=f"why{NUL}"), "reason"),
    (
        "POST",
        "/v1/rollouts",
        rollout_body(update={"kind": "feature", "version": f"Windows 11{NUL}"}),
        "update.feature.version",
    ),
    (
        "POST",
        "/v1/rollouts",
        rollout_body(update={"kind": "quality", "catalogEntryId": f"x{NUL}"}),
        "update.quality.catalogEntryId",
    ),
    ("PATCH", f"/v1/rollouts/{ROLLOUT}", {"name": f"B{NUL}"}, "name"),
    ("PATCH", f"/v1/rollouts/{ROLLOUT}", {"name": "B", "ticket": f"CHG{NUL}"}, "ticket"),
    ("PATCH", f"/v1/rollouts/{ROLLOUT}", {"name": "B", "reason": NUL}, "reason"),
    ("POST", f"/v1/rollouts/{ROLLOUT}/pause", {"ticket": f"CHG{NUL}"}, "ticket"),
    ("POST", f"/v1/rollouts/{ROLLOUT}/pause", {"reason": f"because{NUL}"}, "reason"),
    ("POST", f"/v1/rollouts/{ROLLOUT}/resume", {"ticket": f"{NUL}"}, "ticket"),
    ("POST", f"/v1/rollouts/{ROLLOUT}/archive", {"reason": f"done{NUL}"}, "reason"),
    (
        "POST",
        f"/v1/rollouts/{ROLLOUT}/audience",
        {"addDevices": device_ids(1), "reason": f"floor 3{NUL}"},
        "reason",
    ),
    (
        "POST",
        f"/v1/rollouts/{ROLLOUT}/audience",
        {"addDevices": device_ids(1), "ticket": f"CHG{NUL}"},
        "ticket",
    ),
    (
        "POST",
        "/v1/devices/release",
        {"category": "feature", "devices": device_ids(1), "ticket": f"CHG{NUL}"},
        "ticket",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    BODY_CASES,
    ids=[f"{c[0]} {c[1].replace(ROLLOUT, 'id')} {c[3]}" for c in BODY_CASES],
)
async def test_a_nul_in_a_body_field_is_a_422_naming_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    simulator: SimulatorState,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    if ROLLOUT in path:
        path = path.replace(ROLLOUT, await _rollout(client))
    request = client.build_request(method, path, json=body)
    problem = await _refused_and_nothing_changed(app, client, simulator, request, field)
    assert "NUL" in next(e["message"] for e in problem["errors"] if e["field"] == field)


# (method, path, query parameters, the field the problem must name)
QUERY_CASES: list[tuple[str, str, dict[str, str], str]] = [
    ("GET", "/v1/rollouts", {"ticket": f"CHG{NUL}"}, "ticket"),
    ("GET", "/v1/rollouts", {"version": f"Windows{NUL}"}, "version"),
    ("GET", "/v1/rollouts", {"cursor": NUL}, "cursor"),
    ("GET", "/v1/audit/events", {"ticket": f"CHG{NUL}"}, "ticket"),
    ("GET", "/v1/audit/events", {"actor": f"svc{NUL}"}, "actor"),
    ("GET", "/v1/audit/events", {"action": f"rollout.create{NUL}"}, "action"),
    ("GET", "/v1/catalog/feature-updates", {"cursor": f"x{NUL}"}, "cursor"),
    ("DELETE", f"/v1/rollouts/{ROLLOUT}", {"ticket": f"CHG{NUL}"}, "ticket"),
    ("DELETE", f"/v1/rollouts/{ROLLOUT}", {"reason": f"gone{NUL}"}, "reason"),
    ("POST", f"/v1/rollouts/{ROLLOUT}/pause", {"dryRun": NUL}, "dryRun"),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "field"),
    QUERY_CASES,
    ids=[f"{c[0]} {c[1].replace(ROLLOUT, 'id')} {c[3]}" for c in QUERY_CASES],
)
async def test_a_nul_in_a_query_parameter_is_a_422_naming_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    simulator: SimulatorState,
    method: str,
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    if ROLLOUT in path:
        path = path.replace(ROLLOUT, await _rollout(client))
    request = client.build_request(method, path, params=params)
    await _refused_and_nothing_changed(app, client, simulator, request, field)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/rollouts/a%00b", "rolloutId"),
        ("/v1/rollouts/a%00b/devices", "rolloutId"),
        ("/v1/operations/%00", "operationId"),
        ("/v1/devices/0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c0%00", "deviceId"),
        ("/v1/audit/events/1%00", "eventId"),
    ],
)
async def test_a_nul_in_a_path_parameter_is_a_422_naming_it(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState, path: str, field: str
) -> None:
    request = client.build_request("GET", path)
    await _refused_and_nothing_changed(app, client, simulator, request, field)


async def test_a_nul_in_a_path_parameter_of_a_change_is_a_422(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    rollout_id = await _rollout(client)
    request = client.build_request("POST", f"/v1/rollouts/{rollout_id}%00/pause", json={})
    await _refused_and_nothing_changed(app, client, simulator, request, "rolloutId")


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Request-ID", f"ticket{NUL}42"),
        ("X-Request-ID", "r" * (REQUEST_ID_MAX_LENGTH + 1)),
        ("Prefer", f"wait=5{NUL}"),
        ("Idempotency-Key", f"key{NUL}"),
    ],
    ids=["request id with NUL", "request id too long", "prefer", "idempotency key"],
)
async def test_a_bad_header_is_a_422_naming_it_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState, header: str, value: str
) -> None:
    rollout_id = await _rollout(client)
    request = client.build_request(
        "POST",
        f"/v1/rollouts/{rollout_id}/audience",
        json={"addDevices": device_ids(1)},
        headers={header: value},
    )
    await _refused_and_nothing_changed(app, client, simulator, request, header.lower())


async def test_a_refused_request_id_is_answered_with_a_fresh_one(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": f"a{NUL}b"})
    assert response.status_code == 422
    fresh = response.headers["x-request-id"]
    assert len(fresh) == 36
    assert response.json()["requestId"] == fresh


# ---- the database refusing a value is not "unavailable" ----


async def test_a_value_the_database_refuses_is_not_reported_as_unavailable(app: FastAPI) -> None:
    async with app.state.services.sessionmaker() as session:
        uow = UnitOfWork(session)
        session.add(AuditEvent(actor="a", action="x", outcome="succeeded", ticket=f"T{NUL}"))
        with pytest.raises(DataError) as raised:
            await uow.commit()
    assert not isinstance(raised.value, DatabaseUnavailable)
    assert not is_connection_failure(raised.value)
    assert await table_counts(app) == (0, 0)


class _FailingSession:
    """A session whose commit fails as `error` (the unit of work's view of the database)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.rolled_back = False

    async def commit(self) -> None:
        raise self.error

    async def rollback(self) -> None:
        self.rolled_back = True


async def test_only_an_unreachable_database_is_a_503() -> None:
    unreachable = _FailingSession(OperationalError("COMMIT", {}, Exception("server closed")))
    with pytest.raises(DatabaseUnavailable):
        await UnitOfWork(unreachable).commit()  # type: ignore[arg-type]
    assert unreachable.rolled_back

    refused = _FailingSession(DataError("INSERT", {}, Exception("NUL")))
    with pytest.raises(DataError):
        await UnitOfWork(refused).commit()  # type: ignore[arg-type]
    assert refused.rolled_back


# ---- one source of limits: the API models, sized like the database columns ----


def _column_length(column: Any) -> int:
    column_type = column.type
    if hasattr(column_type, "item_type"):  # ARRAY(String(64))
        column_type = column_type.item_type
    assert isinstance(column_type, String) and column_type.length is not None, column
    return int(column_type.length)


def _max_length(schema: dict[str, Any]) -> int:
    """maxLength of a (possibly optional) string schema."""
    for member in [schema, *schema.get("anyOf", [])]:
        if member.get("type") == "string":
            return int(member["maxLength"])
    raise AssertionError(f"no string in {schema}")


def _components(app: FastAPI) -> dict[str, Any]:
    return dict(app.openapi()["components"]["schemas"])


def _parameter(app: FastAPI, path: str, method: str, name: str) -> dict[str, Any]:
    operation = app.openapi()["paths"][path][method]
    for parameter in operation["parameters"]:
        if parameter.get("name") == name:
            return dict(parameter["schema"])
    raise AssertionError(f"{method} {path} has no parameter {name}")


def test_every_limit_of_the_api_fits_its_database_column() -> None:
    from app.audience.models import AudienceDevice
    from app.operations.models import Operation, OperationItem
    from app.rollouts.models import Rollout

    app = create_app(make_settings("postgresql+psycopg://unused/none"))
    schemas = _components(app)
    create = schemas["RolloutCreate"]["properties"]
    device_id = schemas["RolloutCreate"]["properties"]["devices"]["items"]
    quality = schemas["QualityUpdateRef"]["properties"]
    # (what callers are told, the columns the value is stored in)
    pairs: list[tuple[str, int, list[Any]]] = [
        (
            "ticket",
            _max_length(create["ticket"]),
            [Rollout.ticket, AuditEvent.ticket, Operation.ticket],
        ),
        ("catalogEntryId", _max_length(quality["catalogEntryId"]), [Rollout.catalog_entry_id]),
        (
            "device id",
            _max_length(device_id),
            [
                AudienceDevice.device_id,
                OperationItem.device_id,
                AuditEvent.device_ids,
            ],
        ),
        (
            "audit ticket filter",
            _max_length(_parameter(app, "/v1/audit/events", "get", "ticket")),
            [AuditEvent.ticket],
        ),
        (
            "audit actor filter",
            _max_length(_parameter(app, "/v1/audit/events", "get", "actor")),
            [AuditEvent.actor],
        ),
        (
            "audit action filter",
            _max_length(_parameter(app, "/v1/audit/events", "get", "action")),
            [AuditEvent.action],
        ),
        (
            "rollouts ticket filter",
            _max_length(_parameter(app, "/v1/rollouts", "get", "ticket")),
            [Rollout.ticket],
        ),
        (
            "X-Request-ID",
            REQUEST_ID_MAX_LENGTH,
            [AuditEvent.request_id, Operation.request_id],
        ),
        ("actor", ACTOR_MAX_LENGTH, [AuditEvent.actor, Operation.actor, Rollout.created_by]),
        ("action", ACTION_MAX_LENGTH, [AuditEvent.action]),
    ]
    for label, limit, columns in pairs:
        for column in columns:
            assert limit <= _column_length(column), (label, column)
    # Where the column is the limit, the API allows all of it, so the two cannot drift apart.
    assert _max_length(create["ticket"]) == _column_length(Rollout.ticket)
    assert _column_length(AuditEvent.request_id) == REQUEST_ID_MAX_LENGTH
    assert _column_length(AuditEvent.actor) == ACTOR_MAX_LENGTH


# ---- logs: control characters written by callers are escaped ----


def _record(message: str, *args: object) -> logging.LogRecord:
    record = logging.LogRecord("app.access", logging.INFO, __file__, 1, message, args, None)
    record.request_id = "r-1"
    return record


def test_the_console_log_escapes_control_characters() -> None:
    line = ConsoleFormatter().format(_record("%s %s", "GET", f"/v1/x{NUL}\n2026 fake line\x1b[31m"))
    assert NUL not in line and "\n" not in line and "\x1b" not in line
    assert line.endswith("app.access: GET /v1/x\\x00\\n2026 fake line\\x1b[31m")


def test_the_json_log_escapes_control_characters_in_messages_and_extras() -> None:
    record = _record("GET %s", f"/v1/x{NUL}")
    record.path = f"/v1/x{NUL}\x7f"
    line = JsonFormatter().format(record)
    assert NUL not in line and "\x7f" not in line and "\n" not in line
    assert "\\u0000" in line


async def test_the_access_log_line_of_a_path_with_a_nul_is_escaped(
    client: httpx.AsyncClient,
) -> None:
    configure_logging("info", "console")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        response = await client.get("/v1/rollouts/a%00%0Ab")
    finally:
        configure_logging("warning", "console")
    assert response.status_code == 422
    [access] = [line for line in stream.getvalue().splitlines() if "app.access" in line]
    assert access.endswith("app.access: GET /v1/rollouts/a\\x00\\nb 422")
