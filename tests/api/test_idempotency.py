"""Idempotency-Key: replayed byte for byte, refused for another request, 409 while in flight,
one Graph deployment when two replicas race, and nothing done twice after a crash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from app.auth.api_keys import key_digest
from app.idempotency.claim import claim_var, mark_effects
from app.idempotency.models import IdempotencyKey
from app.idempotency.problems import IdempotencyKeyInFlight
from app.idempotency.store import KeyedRequest
from app.main import create_app
from app.operations.models import Operation
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.api.helpers import device_ids, hold_graph_call, rollout_body, table_counts
from tests.conftest import fixed_clock, make_settings


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _keys(app: FastAPI) -> list[IdempotencyKey]:
    async with app.state.services.sessionmaker() as session:
        return list((await session.execute(select(IdempotencyKey))).scalars())


async def test_a_retried_create_gets_the_first_response_byte_for_byte(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    headers = _key()
    first = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert first.status_code == 201, first.text
    counts = await table_counts(app)
    calls = len(simulator.calls)
    again = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert "idempotent-replayed" not in first.headers
    # Nothing was done again: no Graph call at all, no row.
    assert len(simulator.calls) == calls
    assert len(simulator.deployments) == 1
    assert await table_counts(app) == counts


async def test_the_same_key_with_another_body_or_path_is_422_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    headers = _key()
    first = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert first.status_code == 201
    counts, writes = await table_counts(app), len(simulator.writes())
    other_body = await client.post(
        "/v1/rollouts", json=rollout_body(name="another"), headers=headers
    )
    other_path = await client.post(
        f"/v1/rollouts/{first.json()['id']}/pause", json={}, headers=headers
    )
    for refused in (other_body, other_path):
        assert refused.status_code == 422
        assert refused.json()["type"] == "urn:problem:idempotency-key-reused"
        assert first.headers["x-request-id"] in refused.json()["detail"]
    assert await table_counts(app) == counts
    assert len(simulator.writes()) == writes


async def test_a_refused_request_leaves_its_key_free_for_the_corrected_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = _key()
    invalid = await client.post("/v1/rollouts", json=rollout_body(name=""), headers=headers)
    assert invalid.status_code == 422
    assert await _keys(app) == []  # nothing happened, so nothing is kept
    corrected = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert corrected.status_code == 201


async def test_a_graph_failure_after_the_command_was_recorded_is_replayed_not_retried(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    headers = _key()
    simulator.faults.inject(400, method="POST", path_contains="/deployments", code="BadRequest")
    failed = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert failed.status_code == 502, failed.text
    posts = simulator.count("POST", "/deployments")
    again = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert (again.status_code, again.content) == (502, failed.content)
    assert simulator.count("POST", "/deployments") == posts


async def test_an_audience_change_is_replayed_with_its_operation(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    rollout = (await client.post("/v1/rollouts", json=rollout_body())).json()
    headers = _key()
    body = {"addDevices": device_ids(3), "ticket": "CHG1"}
    first = await client.post(f"/v1/rollouts/{rollout['id']}/audience", json=body, headers=headers)
    assert first.status_code in (200, 202), first.text
    await app.state.services.operations.idle()
    again = await client.post(f"/v1/rollouts/{rollout['id']}/audience", json=body, headers=headers)
    assert again.content == first.content
    assert again.json()["id"] == first.json()["id"]
    async with app.state.services.sessionmaker() as session:
        operations = await session.scalar(select(func.count()).select_from(Operation))
    assert operations == 1


async def test_while_the_first_request_runs_the_same_key_is_409(
    app: FastAPI,
    client: httpx.AsyncClient,
    simulator: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = _key()
    # The first request is in Graph, its key claimed, until the second has its answer.
    in_graph, release = hold_graph_call(
        monkeypatch, app.state.services.graph, "create_audience", answered=False
    )
    first = asyncio.create_task(client.post("/v1/rollouts", json=rollout_body(), headers=headers))
    try:
        async with asyncio.timeout(30):
            await in_graph.wait()
        during = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    finally:
        release.set()
    assert during.status_code == 409
    assert during.json()["type"] == "urn:problem:idempotency-key-in-flight"
    assert during.headers["retry-after"] == "1"
    assert (await first).status_code == 201
    after = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert after.content == (await first).content
    assert len(simulator.deployments) == 1


@pytest.fixture
async def two_replicas(
    settings: Settings, simulator: SimulatorState
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two instances of the service on one database and one Graph, as two replicas."""
    clients = []
    apps = [create_app(settings, simulator_state=simulator, clock=fixed_clock) for _ in range(2)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        # Both replicas must talk to the same simulated Graph: share the first one's state.
        for app in apps:
            transport = httpx.ASGITransport(app=app)
            clients.append(httpx.AsyncClient(transport=transport, base_url="http://t"))
        try:
            yield clients
        finally:
            for client in clients:
                await client.aclose()


async def test_two_replicas_racing_with_one_key_make_one_deployment(
    two_replicas: list[httpx.AsyncClient], simulator: SimulatorState
) -> None:
    simulator.faults.latency_seconds = 0.05
    for _ in range(5):
        headers = _key()
        body = rollout_body(name=f"race {uuid.uuid4().hex[:6]}")
        answers = await asyncio.gather(
            *(replica.post("/v1/rollouts", json=body, headers=headers) for replica in two_replicas)
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses in ([201, 201], [201, 409]), [a.text for a in answers]
        if statuses == [201, 201]:
            assert answers[0].content == answers[1].content  # one of them is the replay
    assert len(simulator.deployments) == 5
    assert simulator.count("POST", "/deployments") == 5


async def test_keys_belong_to_their_caller(clean_database: str) -> None:
    keys = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789"}
    settings = make_settings(
        clean_database,
        api_keys=",".join(f"{name}:operator:{key_digest(key)}" for name, key in keys.items()),
    )
    simulator = SimulatorState(synchronous=True)
    application = create_app(settings, simulator_state=simulator, clock=fixed_clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            shared = _key()
            answers = [
                await http.post(
                    "/v1/rollouts", json=rollout_body(), headers={**shared, "X-API-Key": key}
                )
                for key in keys.values()
            ]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert [answer.json()["createdBy"] for answer in answers] == ["alice", "bob"]


async def _expire_keys(app: FastAPI, *keys: str) -> None:
    """These keys (all when none is named) ran out a second ago, as 24 hours later."""
    expire = update(IdempotencyKey).values(
        expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 1)
    )
    if keys:
        expire = expire.where(IdempotencyKey.key.in_(keys))
    async with app.state.services.sessionmaker() as session, session.begin():
        await session.execute(expire)


async def test_an_expired_key_is_a_new_key(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    headers = _key()
    first = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    await _expire_keys(app)
    second = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert len(simulator.deployments) == 2


async def test_the_purge_removes_only_keys_past_their_24_hours(
    settings: Settings, simulator: SimulatorState
) -> None:
    # No embedded worker: its own purge, at the turn of every fifth real minute, would race the
    # purge called here.
    application = create_app(
        settings.model_copy(update={"run_worker": False}),
        simulator_state=simulator,
        clock=fixed_clock,
    )
    async with application.router.lifespan_context(application):
        assert application.state.services.jobs is None
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            old, new = _key(), _key()
            for headers in (old, new):
                created = await http.post("/v1/rollouts", json=rollout_body(), headers=headers)
                assert created.status_code == 201, created.text
        purge = application.state.services.idempotency.purge_expired
        assert await purge() == 0
        await _expire_keys(application, old["Idempotency-Key"])
        assert await purge() == 1
        assert [row.key for row in await _keys(application)] == [new["Idempotency-Key"]]


async def test_a_key_whose_request_died_after_its_write_is_never_run_again(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    headers = _key()
    first = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    # As if the replica died after committing, before keeping the response: lease over.
    async with app.state.services.sessionmaker() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(
                response_status=None, response_body=None, locked_until=func.now()
            )
        )
    again = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:problem:idempotency-key-interrupted"
    assert first.headers["x-request-id"] in again.json()["detail"]
    assert len(simulator.deployments) == 1


async def test_a_key_taken_over_after_its_lease_refuses_the_first_holders_write(
    app: FastAPI,
) -> None:
    store = app.state.services.idempotency
    request = KeyedRequest("anonymous", "k-1", "f" * 64, "POST", "/v1/rollouts", "req-1")
    first = await store.claim(request)
    assert first.kind == "run"
    async with app.state.services.sessionmaker() as session, session.begin():
        await session.execute(update(IdempotencyKey).values(locked_until=func.now()))
    second = await store.claim(request)
    assert second.kind == "run"  # the first holder wrote nothing: the retry takes over
    assert second.claim is not None and first.claim is not None
    assert second.claim.id == first.claim.id and second.claim.owner != first.claim.owner
    token = claim_var.set(first.claim)
    try:
        async with app.state.services.sessionmaker() as session:
            with pytest.raises(IdempotencyKeyInFlight):
                await mark_effects(session)
    finally:
        claim_var.reset(token)


@pytest.mark.parametrize("key", ["", "has space", "é", "x" * 256])
async def test_a_malformed_key_is_422_naming_the_header(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState, key: str
) -> None:
    response = await client.post(
        "/v1/rollouts",
        json=rollout_body(),
        headers={"Idempotency-Key": key.encode("utf-8")},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert simulator.writes() == []
    assert await table_counts(app) == (0, 0)


def test_every_change_documents_the_header(app: FastAPI) -> None:
    document = app.openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            refs = [p.get("$ref") for p in operation.get("parameters", [])]
            mutating = path.startswith("/v1/") and method in ("post", "patch", "delete")
            assert ("#/components/parameters/IdempotencyKey" in refs) is mutating, (method, path)
            if mutating:
                assert "409" in operation["responses"]
