"""Retries through the simulator's injected faults, with a fake sleep recording every wait."""

from __future__ import annotations

import httpx
import pytest

from app.graph.client import GraphClient, GraphClientConfig
from app.graph.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
)
from app.graph.specs import ContentSpec
from app.simulator import SimulatorState
from app.simulator.catalog import WIN11_24H2
from tests.graph.conftest import FakeSleep, MakeClient
from tests.graph.transports import FailingTransport, SpyTransport, TimeoutTransport

FEATURE = ContentSpec(WIN11_24H2, "feature")
CATALOG = "/catalog/entries"


async def test_429_retry_after_is_honoured(
    graph: GraphClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    sim.faults.inject(429, count=2, retry_after=7, path_contains=CATALOG)
    result = await graph.list_catalog_entries("feature")
    assert sleeper.waits == [7.0, 7.0]
    calls = sim.find("GET", CATALOG)
    assert [c.status for c in calls] == [429, 429, 200]
    assert result.request_ids == [c.request_id for c in calls]
    assert len({c.client_request_id for c in calls}) == 1  # one operation, one client-request-id
    assert result.value


async def test_503_retry_after_is_honoured(
    graph: GraphClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    sim.faults.inject(503, count=1, retry_after=3, path_contains=CATALOG)
    await graph.list_catalog_entries("quality")
    assert sleeper.waits == [3.0]


async def test_gives_up_after_the_attempt_cap(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph(GraphClientConfig(max_attempts=3, max_retry_wait_seconds=100))
    sim.faults.inject(429, count=10, retry_after=2, path_contains=CATALOG)
    with pytest.raises(GraphThrottled) as caught:
        await graph.list_catalog_entries("feature")
    assert sleeper.waits == [2.0, 2.0]
    assert sim.count("GET", CATALOG) == 3
    error = caught.value
    assert (error.status, error.code, error.retry_after) == (429, "TooManyRequests", 2.0)
    assert error.request_ids == tuple(c.request_id for c in sim.find("GET", CATALOG))


async def test_gives_up_at_once_when_retry_after_exceeds_the_wait_budget(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph(GraphClientConfig(max_attempts=10, max_retry_wait_seconds=10))
    sim.faults.inject(429, count=10, retry_after=6, path_contains=CATALOG)
    with pytest.raises(GraphThrottled):
        await graph.list_catalog_entries("feature")
    assert sleeper.waits == [6.0]  # a second 6 s wait would pass the 10 s budget
    assert sim.count("GET", CATALOG) == 2


async def test_500_backs_off_exponentially_with_full_jitter(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph(rand=lambda: 0.5)
    sim.faults.inject(500, count=3, path_contains=CATALOG)
    await graph.list_catalog_entries("feature")
    assert sleeper.waits == [0.25, 0.5, 1.0]  # 0.5 × (0.5, 1, 2)


async def test_persistent_500_ends_as_unavailable(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph(GraphClientConfig(max_attempts=4))
    sim.faults.inject(500, count=10, path_contains=CATALOG)
    with pytest.raises(GraphUnavailable) as caught:
        await graph.list_catalog_entries("feature")
    assert caught.value.status == 500 and len(sleeper.waits) == 3
    assert not caught.value.outcome_unknown  # a GET changes nothing


async def test_read_timeouts_are_retried_for_reads_then_typed(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph(
        transport_wrapper=lambda inner: FailingTransport(inner, httpx.ReadTimeout, 2, CATALOG)
    )
    assert (await graph.list_catalog_entries("feature")).value
    assert sleeper.waits == [0.5, 1.0]
    always = make_graph(
        GraphClientConfig(max_attempts=2),
        transport_wrapper=lambda inner: FailingTransport(inner, httpx.ReadTimeout, 99, CATALOG),
    )
    with pytest.raises(GraphTimeout):
        await always.list_catalog_entries("feature")


async def test_connection_refused_is_retried_even_for_a_create(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph(
        transport_wrapper=lambda inner: FailingTransport(
            inner, httpx.ConnectError, 1, "/deployments"
        )
    )
    audience = await graph.create_audience()
    created = await graph.create_deployment(FEATURE, None, audience.value.id)
    assert list(sim.deployments) == [created.value.id]
    assert sim.count("GET", "/deployments") == 0  # refused before sending: no check needed


async def test_429_on_create_deployment_is_retried(
    graph: GraphClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    audience = await graph.create_audience()
    sim.faults.inject(429, retry_after=4, method="POST", path_contains="/deployments")
    created = await graph.create_deployment(FEATURE, None, audience.value.id)
    assert sleeper.waits == [4.0]
    assert list(sim.deployments) == [created.value.id]


async def test_create_after_a_lost_response_adopts_the_one_created(
    graph: GraphClient, sim: SimulatorState
) -> None:
    audience = await graph.create_audience()
    sim.clear_calls()
    sim.faults.drop_after_processing(status=504, method="POST", path_contains="/deployments")
    created = await graph.create_deployment(FEATURE, None, audience.value.id)
    assert list(sim.deployments) == [created.value.id]
    assert sim.deployments[created.value.id].audience_id == audience.value.id
    writes = sim.writes()
    assert [(c.method, c.status) for c in writes] == [("POST", 504)]
    checks = sim.find("GET", "/deployments")
    assert checks and "expand=audience" in checks[0].query.replace("%24", "$")
    assert writes[0].request_id in created.request_ids


async def test_create_after_a_real_timeout_adopts_the_one_created(
    make_graph: MakeClient, sim: SimulatorState
) -> None:
    spies: list[SpyTransport] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        spies.append(SpyTransport(TimeoutTransport(inner, 0.2)))
        return spies[-1]

    graph = make_graph(transport_wrapper=wrap)
    audience = await graph.create_audience()
    sim.faults.drop_after_processing(method="POST", path_contains="/deployments", hang_seconds=5)
    created = await graph.create_deployment(FEATURE, None, audience.value.id)
    assert list(sim.deployments) == [created.value.id]
    sent = [(r.method, r.url.path.rsplit("/", 1)[-1]) for r in spies[0].requests]
    assert sent.count(("POST", "deployments")) == 1
    assert ("GET", "deployments") in sent


async def test_create_refused_with_500_is_checked_then_sent_again(
    graph: GraphClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    audience = await graph.create_audience()
    sim.clear_calls()
    sim.faults.inject(500, method="POST", path_contains="/deployments")
    created = await graph.create_deployment(FEATURE, None, audience.value.id)
    assert [(c.method, c.status) for c in sim.find(path_contains="/deployments")][:1] == [
        ("POST", 500)
    ]
    order = [c.method for c in sim.find(path_contains="/deployments")]
    assert order == ["POST", "GET", "POST"]  # never two POSTs without a look in between
    assert list(sim.deployments) == [created.value.id]
    assert len(sleeper.waits) == 1


async def test_create_gives_up_with_outcome_unknown_when_the_check_fails(
    make_graph: MakeClient, sim: SimulatorState
) -> None:
    graph = make_graph(GraphClientConfig(max_attempts=2))
    audience = await graph.create_audience()
    sim.faults.inject(500, count=1, method="POST", path_contains="/deployments")
    sim.faults.inject(500, count=10, method="GET", path_contains="/deployments")
    with pytest.raises(GraphUnavailable) as caught:
        await graph.create_deployment(FEATURE, None, audience.value.id)
    assert caught.value.outcome_unknown
    assert sim.count("POST", "/deployments") == 1


async def test_delete_with_a_lost_response_is_done(graph: GraphClient, sim: SimulatorState) -> None:
    audience = await graph.create_audience()
    deployment = (await graph.create_deployment(FEATURE, None, audience.value.id)).value
    sim.faults.drop_after_processing(method="DELETE")
    result = await graph.delete_deployment(deployment.id)
    assert [c.status for c in sim.find("DELETE")] == [504, 404]
    assert len(result.request_ids) == 2
    assert deployment.id not in sim.deployments


async def test_401_drops_the_token_and_retries_once(
    graph: GraphClient, sim: SimulatorState
) -> None:
    await graph.list_catalog_entries("feature")
    sim.token_key = b"rotated-key-rotated-key-rotated!"  # the cached token no longer verifies
    await graph.list_catalog_entries("feature")
    assert sim.count("POST", "/oauth2/v2.0/token") == 2
    assert [c.status for c in sim.find("GET", CATALOG)] == [200, 401, 200]

    sim.faults.inject(401, count=2, path_contains=CATALOG)
    with pytest.raises(GraphUnauthorized) as caught:
        await graph.list_catalog_entries("feature")
    assert isinstance(caught.value, GraphAuthError)
    assert sim.count("POST", "/oauth2/v2.0/token") == 3


async def test_403_is_not_retried_and_names_both_causes(
    graph: GraphClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    sim.faults.inject(403, path_contains=CATALOG)
    with pytest.raises(GraphForbidden) as caught:
        await graph.list_catalog_entries("feature")
    assert sleeper.waits == [] and sim.count("GET", CATALOG) == 1
    assert "permission" in caught.value.message and "licence" in caught.value.message


async def test_token_is_cached_and_a_wrong_secret_is_a_clear_auth_error(
    graph: GraphClient, sim: SimulatorState
) -> None:
    await graph.list_catalog_entries("feature")
    await graph.list_catalog_entries("quality")
    assert sim.count("POST", "/oauth2/v2.0/token") == 1
    sim.client_secret = "another-secret"
    await graph._tokens.invalidate()
    with pytest.raises(GraphAuthError) as caught:
        await graph.list_catalog_entries("feature")
    assert caught.value.code == "invalid_client"
    assert "Invalid client secret" in caught.value.message
    assert "test-secret" not in str(caught.value)


async def test_a_write_retried_to_exhaustion_reports_outcome_unknown(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph(GraphClientConfig(max_attempts=2, max_ids_per_call=2))
    ids = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(2)]
    sim.faults.inject(500, count=2, method="POST", path_contains="enrollAssets")
    with pytest.raises(GraphUnavailable) as caught:
        await graph.enroll_assets_chunk("feature", ids)
    assert caught.value.outcome_unknown
    assert len(caught.value.request_ids) == 2 and len(sleeper.waits) == 1


async def test_503_retry_after_on_a_patch_is_honoured(
    graph: GraphClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    audience = await graph.create_audience()
    deployment = (await graph.create_deployment(FEATURE, None, audience.value.id)).value
    sim.faults.inject(503, retry_after=9, method="PATCH")
    result = await graph.set_requested_state(deployment.id, "paused")
    assert sleeper.waits == [9.0] and len(result.request_ids) == 2
    assert result.value is not None and result.value.state is not None
    assert result.value.state.requested_value == "paused"


async def test_a_next_link_to_another_host_is_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "graph.example":
            page = {"value": [], "@odata.nextLink": "https://evil.example/steal"}
            return httpx.Response(200, json=page)
        raise AssertionError(f"token sent to {request.url}")

    class StaticToken:
        async def token(self) -> str:
            return "t"

        async def invalidate(self) -> None:
            return None

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="https://graph.example/beta"
    ) as http:
        with pytest.raises(GraphError, match=r"evil\.example"):
            await GraphClient(http, StaticToken()).list_deployments()
