"""Bad admin bodies: a 400 JSON error naming the field, never a 500 or a vague message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.simulator import SimulatorState
from tests.simulator.support import create_deployment

ADMIN = "/_simulator"


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "says"),
    [
        ("POST", "/faults/inject", {"status": "x"}, "status", "an integer"),
        ("POST", "/faults/inject", {}, "status", "is required"),
        ("POST", "/faults/inject", {"status": 200}, "status", "between 400 and 599"),
        ("POST", "/faults/inject", {"status": 503, "count": "two"}, "count", "an integer"),
        ("POST", "/faults/inject", {"status": 503, "count": 0}, "count", "at least 1"),
        ("POST", "/faults/inject", {"status": 503, "count": 1.5}, "count", "an integer"),
        ("POST", "/faults/inject", {"status": 503, "retryAfter": "soon"}, "retryAfter", "integer"),
        ("POST", "/faults/inject", {"status": 503, "method": "FETCH"}, "method", "HTTP method"),
        ("POST", "/faults/inject", {"status": 503, "path": "/x"}, "path", "Unknown field"),
        ("POST", "/faults/inject", {"status": True}, "status", "an integer"),
        ("POST", "/faults/drop", {"hangSeconds": "long"}, "hangSeconds", "a number"),
        ("POST", "/faults/drop", {"status": "504"}, "status", "an integer"),
        ("PATCH", "/faults", {"throttleRate": 2}, "throttleRate", "between 0 and 1"),
        ("PATCH", "/faults", {"throttleRate": "half"}, "throttleRate", "a number"),
        (
            "PATCH",
            "/faults",
            {"throttleRate": 0.7, "unavailableRate": 0.5},
            "unavailableRate",
            "must not exceed 1",
        ),
        ("PATCH", "/faults", {"rateMethods": "GET"}, "rateMethods", "a list of HTTP methods"),
        ("PATCH", "/faults", {"rateMethods": ["get", 1]}, "rateMethods", "a list of HTTP"),
        ("PATCH", "/faults", {"rateMethods": ["BREW"]}, "rateMethods", "unknown HTTP method"),
        ("PATCH", "/faults", {"maxIdsPerCall": 0}, "maxIdsPerCall", "at least 1"),
        ("PATCH", "/faults", {"latency": 1}, "latency", "Unknown field"),
        ("PATCH", "/config", {"pageSize": "x"}, "pageSize", "an integer"),
        ("PATCH", "/config", {"pageSize": 0}, "pageSize", "at least 1"),
        ("PATCH", "/config", {"synchronous": "yes"}, "synchronous", "true or false"),
        ("PATCH", "/config", {"synchronous": None}, "synchronous", "not null"),
        ("PATCH", "/config", {"nope": 1}, "nope", "Unknown field"),
        ("PATCH", "/config", {"grantedRoles": "x"}, "grantedRoles", "a list of strings"),
        ("POST", "/clock", {"now": "soon"}, "now", "ISO 8601"),
        ("POST", "/clock", {"advanceSeconds": "5"}, "advanceSeconds", "a number"),
        ("POST", "/clock", {"advanceSeconds": -5}, "advanceSeconds", "at least 0"),
        ("POST", "/synchronous", {}, "synchronous", "is required"),
        ("PUT", "/known-devices", {"ids": "abc"}, "ids", "a list of strings"),
        ("PUT", "/known-devices", {}, "ids", "is required"),
        ("POST", "/reset", {"seed": "1"}, "seed", "an integer"),
        ("POST", "/token", {"expiresIn": "1h"}, "expiresIn", "an integer"),
        ("POST", "/apply", {"now": True}, "now", "Unknown field"),
    ],
)
async def test_each_bad_body_is_a_400_naming_its_field(
    anon: httpx.AsyncClient,
    state: SimulatorState,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
    says: str,
) -> None:
    before = (state.faults.scripted[:], state.faults.throttle_rate, state.page_size)
    response = await anon.request(method, f"{ADMIN}{path}", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalidRequest", field)
    assert says in error["message"]
    assert (state.faults.scripted, state.faults.throttle_rate, state.page_size) == before


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'"x"', "JSON object")],
)
async def test_a_body_that_is_not_a_json_object_is_400(
    anon: httpx.AsyncClient, content: bytes, says: str
) -> None:
    response = await anon.post(f"{ADMIN}/faults/inject", content=content)
    assert response.status_code == 400
    assert response.json()["error"]["field"] is None
    assert says in response.json()["error"]["message"]


async def test_monitoring_body_is_checked(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    dep = await create_deployment(client)
    path = f"{ADMIN}/deployments/{dep['id']}/monitoring"
    for body, says in (({}, "is required"), ({"rollbackPercent": 101}, "between 0 and 100")):
        response = await anon.post(path, json=body)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "rollbackPercent"
        assert says in response.json()["error"]["message"]


async def test_calls_query_parameters_are_checked(anon: httpx.AsyncClient) -> None:
    bad_status = await anon.get(f"{ADMIN}/calls", params={"status": "ok"})
    assert (bad_status.status_code, bad_status.json()["error"]["field"]) == (400, "status")
    typo = await anon.get(f"{ADMIN}/calls", params={"path": "/deployments"})
    assert (typo.status_code, typo.json()["error"]["field"]) == (400, "path")


async def test_good_bodies_still_work_with_their_defaults(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    response = await anon.post(
        f"{ADMIN}/faults/inject", json={"status": 503, "method": "get", "retryAfter": 2}
    )
    assert response.json() == {"scripted": 1}
    fault = state.faults.scripted[0]
    assert (fault.status, fault.count, fault.method, fault.retry_after) == (503, 1, "GET", 2)
    dropped = await anon.post(f"{ADMIN}/faults/drop", json={})
    assert dropped.json() == {"drops": 1}
    assert state.faults.drops[0].status == 504
    patched = await anon.patch(f"{ADMIN}/faults", json={"rateMethods": ["post"]})
    assert patched.json()["rateMethods"] == ["POST"]
    cleared = await anon.patch(f"{ADMIN}/faults", json={"rateMethods": None})
    assert cleared.json()["rateMethods"] is None
    assert (await anon.put(f"{ADMIN}/known-devices", json={"ids": None})).json() == {"ids": None}
    roles = await anon.patch(f"{ADMIN}/config", json={"grantedRoles": ["WindowsUpdates.Read.All"]})
    assert roles.json()["grantedRoles"] == ["WindowsUpdates.Read.All"]
    assert state.granted_roles == ["WindowsUpdates.Read.All"]
