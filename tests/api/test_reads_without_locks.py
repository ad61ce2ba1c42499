"""GET /v1/rollouts/{id} reads Graph with no row lock and no database connection held: readers
of one rollout overlap instead of queueing, and what a read saw is written only if the rollout
did not change meanwhile (a pause made during the read is not overwritten)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.graph.results import GraphResult
from app.graph.wire import Deployment
from app.main import create_app
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.api.helpers import audit_trail, rollout_body, rollout_row
from tests.conftest import NOW, make_settings

READERS = 10
LATENCY = 0.3  # every Graph call waits this long in the simulator

GetDeployment = Callable[[str], Awaitable[GraphResult[Deployment]]]


@pytest.fixture
def settings(clean_database: str) -> Settings:
    """Enough Graph concurrency that the readers' calls are not queued by the client."""
    return make_settings(clean_database, graph_concurrency=READERS)


def wrap_get_deployment(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, wrapper: Callable[[GetDeployment, str], Any]
) -> None:
    """Route the Graph client's get_deployment through `wrapper(original, deployment_id)`."""
    graph = app.state.services.graph
    original: GetDeployment = graph.get_deployment

    async def wrapped(deployment_id: str) -> GraphResult[Deployment]:
        result: GraphResult[Deployment] = await wrapper(original, deployment_id)
        return result

    monkeypatch.setattr(graph, "get_deployment", wrapped)


async def create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    created = await client.post("/v1/rollouts", json=rollout_body(**overrides))
    assert created.status_code == 201, created.text
    return dict(created.json())


async def test_readers_overlap_and_hold_no_connection_while_graph_answers(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rollout = await create(client)
    in_graph = 0  # readers waiting for Graph right now

    async def counting(original: GetDeployment, deployment_id: str) -> GraphResult[Deployment]:
        nonlocal in_graph
        in_graph += 1
        try:
            return await original(deployment_id)
        finally:
            in_graph -= 1

    wrap_get_deployment(app, monkeypatch, counting)
    simulator.faults.latency_seconds = LATENCY
    pool = app.state.services.engine.pool

    reading = asyncio.gather(*(client.get(f"/v1/rollouts/{rollout['id']}") for _ in range(READERS)))
    samples = []  # (readers waiting for Graph, connections checked out)
    while not reading.done():
        samples.append((in_graph, pool.checkedout()))
        await asyncio.sleep(0.01)
    answers = await reading

    assert [a.status_code for a in answers] == [200] * READERS
    assert {a.json()["state"]["effective"] for a in answers} == {"offering"}
    # Overlapping: all readers waited for Graph at once (queued readers would never all be).
    assert max(waiting for waiting, _ in samples) == READERS
    # A reader waiting for Graph holds no connection: while all of them wait, none is held.
    # (Samples taken while readers come and go are not atomic enough to say more.)
    assert [held for waiting, held in samples if waiting == READERS].count(0) >= 5, samples


async def test_a_pause_made_while_graph_is_read_is_not_overwritten(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rollout = await create(client)
    url = f"/v1/rollouts/{rollout['id']}"
    answered, release = asyncio.Event(), asyncio.Event()
    seen: list[Deployment] = []

    async def held_back(original: GetDeployment, deployment_id: str) -> GraphResult[Deployment]:
        result = await original(deployment_id)
        if not seen:  # the reader's call: Graph has answered, the answer is still on its way
            seen.append(result.value)
            answered.set()
            await release.wait()
        return result

    wrap_get_deployment(app, monkeypatch, held_back)
    reading = asyncio.create_task(client.get(url))
    try:
        async with asyncio.timeout(5):
            await answered.wait()
            paused = await client.post(url + "/pause")
    except TimeoutError:
        pytest.fail("the pause waited for the reader: the read held the rollout's row lock")
    finally:
        release.set()
    answer = await reading

    assert seen[0].state is not None and seen[0].state.requested_value == "none"  # stale
    assert paused.status_code == 200, paused.text
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"]["requested"] == "paused"
    stored = await rollout_row(app, rollout["id"])
    assert stored.observed is not None and stored.observed.requested == "paused"
    actions = [event.action for event in await audit_trail(app, rollout["id"])]
    assert "rollout.stateObserved" not in actions  # the stale read was not taken for news
    assert actions[-2:] == ["rollout.pause", "rollout.pause"]


@pytest.mark.parametrize("outside", ["monitoring pause", "deletion"])
async def test_concurrent_readers_record_a_change_made_outside_once(
    client: httpx.AsyncClient, app: FastAPI, simulator: SimulatorState, outside: str
) -> None:
    rule = [{"signal": "rollback", "thresholdPercent": 5, "action": "pause"}]
    rollout = await create(client, monitoring=rule)
    deployment_id = rollout["graphDeploymentId"]
    if outside == "deletion":
        del simulator.deployments[deployment_id]
    else:
        simulator.set_monitoring_signal(deployment_id, 7.5)  # above the rule: Graph pauses
    simulator.faults.latency_seconds = 0.1
    url = f"/v1/rollouts/{rollout['id']}"

    answers = await asyncio.gather(*(client.get(url) for _ in range(READERS)))

    assert {a.status_code for a in answers} == {200}
    simulator.faults.latency_seconds = 0
    expected = "deleted" if outside == "deletion" else "paused"
    assert (await client.get(url)).json()["state"]["effective"] == expected
    action = "rollout.deletedOutside" if outside == "deletion" else "rollout.stateObserved"
    by_graph = [e.action for e in await audit_trail(app, rollout["id"]) if e.actor == "graph"]
    assert by_graph == [action]


async def test_a_change_holds_no_connection_while_graph_answers(
    client: httpx.AsyncClient,
    app: FastAPI,
    simulator: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rollout = await create(client)
    pool = app.state.services.engine.pool
    held_during_graph: list[int] = []

    async def sampling(original: GetDeployment, deployment_id: str) -> GraphResult[Deployment]:
        await asyncio.sleep(LATENCY / 2)
        held_during_graph.append(pool.checkedout())
        return await original(deployment_id)

    wrap_get_deployment(app, monkeypatch, sampling)
    paused = await client.post(f"/v1/rollouts/{rollout['id']}/pause", json={"ticket": "C1"})

    assert paused.status_code == 200, paused.text
    assert paused.json()["state"]["requested"] == "paused"
    assert held_during_graph == [0]  # the pause read Graph first, holding no connection


async def _row_version(app: FastAPI, rollout_id: str) -> tuple[int, dict[str, Any]]:
    """The row's xmin (a new one per write) and its recorded Graph state."""
    async with app.state.services.sessionmaker() as session:
        row = (
            await session.execute(
                text("SELECT xmin::text::bigint, graph_state FROM rollouts WHERE id = :id"),
                {"id": rollout_id},
            )
        ).one()
    return int(row[0]), dict(row[1])


async def test_a_read_writes_only_what_changed_or_aged(
    clean_database: str, simulator: SimulatorState
) -> None:
    """Many reads of an unchanged rollout write nothing; a state changed outside is recorded
    (with its audit event) by the next read; an unchanged state is written again once its
    record is a minute old, so the list's observedAt stays recent."""
    now = [NOW]
    application = create_app(
        make_settings(clean_database), simulator_state=simulator, clock=lambda: now[0]
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            rollout = (await http.post("/v1/rollouts", json=rollout_body())).json()
            first = await http.get(f"/v1/rollouts/{rollout['id']}")
            version, recorded = await _row_version(application, rollout["id"])
            for _ in range(5):
                now[0] += timedelta(seconds=5)
                again = await http.get(f"/v1/rollouts/{rollout['id']}")
                # Each answer is Graph's state now, with the time it was read...
                assert again.json()["state"]["observedAt"] == now[0].isoformat().replace(
                    "+00:00", "Z"
                )
            # ...but none of those reads wrote the row.
            assert await _row_version(application, rollout["id"]) == (version, recorded)

            simulator.deployments[rollout["graphDeploymentId"]].requested = "paused"
            changed = await http.get(f"/v1/rollouts/{rollout['id']}")
            assert changed.json()["state"]["requested"] == "paused", changed.json()
            version, recorded = await _row_version(application, rollout["id"])
            assert recorded["requested"] == "paused"
            events = await audit_trail(application, rollout["id"])
            assert events[-1].action == "rollout.stateObserved"

            now[0] += timedelta(seconds=61)
            await http.get(f"/v1/rollouts/{rollout['id']}")
            aged_version, aged = await _row_version(application, rollout["id"])
    assert aged_version != version
    assert aged["observedAt"] == now[0].isoformat()
    assert first.status_code == 200
