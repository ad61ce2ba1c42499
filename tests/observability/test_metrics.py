"""`GET /metrics` after a real scenario: HTTP requests by route template, Graph calls, throttles
and waits, commands, operations, jobs and audit events, with no id in any label."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, rollout_body

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(client: httpx.AsyncClient) -> tuple[Samples, str]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return samples, response.text


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_after_a_rollout_an_audience_change_and_a_throttled_call(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    before, _ = await _scrape(client)
    created = await client.post("/v1/rollouts", json=rollout_body())
    assert created.status_code == 201
    rollout = created.json()["id"]
    simulator.faults.inject(429, retry_after=0, method="GET", path_contains="/deployments/")
    assert (await client.get(f"/v1/rollouts/{rollout}")).status_code == 200
    changed = await client.post(
        f"/v1/rollouts/{rollout}/audience", json={"addDevices": device_ids(5)}
    )
    assert changed.status_code in (200, 202)
    await app.state.services.operations.idle()
    assert (
        await client.get("/v1/rollouts/5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38")
    ).status_code == 404
    assert (await client.get("/no/such/path")).status_code == 404

    after, text = await _scrape(client)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "autopatch_http_requests_total"
    assert grew(requests, method="POST", route="/v1/rollouts", status="201") == 1
    assert grew(requests, method="GET", route="/v1/rollouts/{rolloutId}", status="200") == 1
    assert grew(requests, method="GET", route="/v1/rollouts/{rolloutId}", status="404") == 1
    assert grew(requests, method="GET", route="unmatched", status="404") == 1
    assert (
        grew("autopatch_http_request_duration_seconds_count", method="POST", route="/v1/rollouts")
        == 1
    )
    calls = "autopatch_graph_calls_total"
    assert grew(calls, client="api", operation="createDeployment", status="2xx") == 1
    assert grew(calls, client="api", operation="getDeployment", status="4xx") == 1  # the 429
    assert grew(calls, client="worker", operation="updateAudience", status="2xx") >= 1
    assert grew("autopatch_graph_throttles_total", client="api") == 1
    assert grew("autopatch_graph_retries_total", client="api") >= 1
    assert ("autopatch_graph_retry_after_wait_seconds_total", (("client", "api"),)) in after
    assert ("autopatch_graph_token_refreshes_total", (("client", "api"),)) in after
    assert _value(after, "autopatch_commands", status="succeeded") == 1  # the create
    assert _value(after, "autopatch_commands", status="queued") == 0
    assert _value(after, "autopatch_commands_oldest_age_seconds", status="queued") == 0
    assert _value(after, "autopatch_operations", status="succeeded") == 1
    assert _value(after, "autopatch_operation_devices", progress="remaining") == 0
    assert ("autopatch_jobs", (("status", "todo"),)) in after
    assert grew("autopatch_audit_events_written_total", outcome="requested") >= 2
    assert grew("autopatch_audit_events_written_total", outcome="succeeded") >= 2
    assert _value(after, "autopatch_database_up") == 1
    # Labels are bounded: no id of a rollout, an operation or a device appears anywhere.
    assert UUID.search(text) is None, UUID.search(text)


async def test_metrics_answer_while_the_database_is_away(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    unreachable = create_async_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    services = app.state.services
    reachable, services.sessionmaker = services.sessionmaker, async_sessionmaker(unreachable)
    try:
        samples, _ = await _scrape(client)
    finally:
        services.sessionmaker = reachable
        await unreachable.dispose()
    assert _value(samples, "autopatch_database_up") == 0
    assert any(name == "autopatch_graph_calls_in_flight" for name, _ in samples)
