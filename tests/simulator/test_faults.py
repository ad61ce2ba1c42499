"""Fault injection: latency, seeded 429/503 rates, scripted answers and lost responses."""

from __future__ import annotations

import asyncio
import time

import httpx

from app.simulator import SimulatorState, catalog
from tests.simulator.support import ROOT, content

ENTRIES = f"{ROOT}/catalog/entries"


async def statuses(client: httpx.AsyncClient, n: int, url: str = ENTRIES) -> list[int]:
    return [(await client.get(url)).status_code for _ in range(n)]


async def test_throttle_rate_answers_429_with_retry_after_deterministically(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.faults.set_rates(throttle=0.5, retry_after=7)
    first = await statuses(client, 40)
    assert set(first) == {200, 429}
    throttled = next(
        r for r in [await client.get(ENTRIES) for _ in range(20)] if r.status_code == 429
    )
    assert throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    state.reset(seed=0)
    state.faults.set_rates(throttle=0.5, retry_after=7)
    assert await statuses(client, 40) == first


async def test_unavailable_rate_answers_503_with_retry_after(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.faults.set_rates(unavailable=1.0, retry_after=3)
    response = await client.get(ENTRIES)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert response.json()["error"]["code"] == "ServiceUnavailable"


async def test_rates_can_hit_writes_only(client: httpx.AsyncClient, state: SimulatorState) -> None:
    state.faults.set_rates(throttle=1.0, methods=frozenset({"POST", "PATCH"}))
    assert (await client.get(ENTRIES)).status_code == 200
    assert (await client.post(f"{ROOT}/deploymentAudiences", json={})).status_code == 429
    assert state.audiences == {}


async def test_scripted_faults_match_method_and_path_and_run_out(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.faults.inject(429, count=2, retry_after=11, method="POST", path_contains="/deployments")
    assert (await client.get(f"{ROOT}/deployments")).status_code == 200
    for _ in range(2):
        response = await client.post(f"{ROOT}/deployments", json={"content": content()})
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "11"
    assert state.deployments == {}  # answered before doing anything
    assert (
        await client.post(f"{ROOT}/deployments", json={"content": content()})
    ).status_code == 201
    assert state.faults.scripted == []


async def test_scripted_fault_runs_before_auth_and_validation(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.faults.inject(500, code="UnknownError", message="boom")
    response = await anon.post(f"{ROOT}/deployments", content=b"garbage")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "UnknownError",
        "message": "boom",
        "innerError": response.json()["error"]["innerError"],
    }
    assert "Retry-After" not in response.headers


async def test_drop_after_processing_applies_the_call_but_loses_the_response(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.faults.drop_after_processing(504, method="POST", path_contains="/deployments")
    response = await client.post(
        f"{ROOT}/deployments", json={"content": content(catalog.WIN11_25H2)}
    )
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "GatewayTimeout"
    assert len(state.deployments) == 1  # created all the same
    listed = (await client.get(f"{ROOT}/deployments")).json()["value"]
    assert [d["content"]["catalogEntry"]["id"] for d in listed] == [catalog.WIN11_25H2]
    assert state.count(method="POST", path_contains="/deployments", status=504) == 1


async def test_drop_with_hang_outlasts_a_client_timeout(
    client: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.faults.drop_after_processing(504, method="POST", hang_seconds=0.05)
    started = time.monotonic()
    try:
        await asyncio.wait_for(client.post(f"{ROOT}/deploymentAudiences", json={}), timeout=0.01)
    except TimeoutError:
        pass
    else:  # pragma: no cover - the hang must outlast the timeout
        raise AssertionError("the call did not hang")
    assert time.monotonic() - started < 0.05
    assert len(state.audiences) == 1  # processed before the hang


async def test_latency_delays_every_call(client: httpx.AsyncClient, state: SimulatorState) -> None:
    state.faults.latency_seconds = 0.03
    started = time.monotonic()
    assert (await client.get(ENTRIES)).status_code == 200
    assert time.monotonic() - started >= 0.03


async def test_clear_removes_all_faults(client: httpx.AsyncClient, state: SimulatorState) -> None:
    state.faults.set_rates(throttle=1.0)
    state.faults.inject(503)
    state.faults.clear()
    assert await statuses(client, 5) == [200] * 5


async def test_every_response_carries_request_id_and_echoes_client_request_id(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    ok = await client.get(ENTRIES, headers={"client-request-id": "abc-123"})
    assert ok.headers["client-request-id"] == "abc-123"
    second = await client.get(ENTRIES)
    assert ok.headers["request-id"] != second.headers["request-id"]
    denied = await anon.get(ENTRIES, headers={"client-request-id": "xyz"})
    inner = denied.json()["error"]["innerError"]
    assert inner["client-request-id"] == "xyz" == denied.headers["client-request-id"]
    assert inner["request-id"] == denied.headers["request-id"]
    assert inner["date"] == "2026-11-28T12:00:00"
