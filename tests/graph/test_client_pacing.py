"""Pacing: requests in flight stay under the limit, one throttle holds back every call of the
client until one shared instant, retry budgets still cap, and the metrics count all of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from app.graph.client import GraphClient, GraphClientConfig
from app.graph.errors import GraphThrottled, GraphUnavailable
from app.graph.metrics import status_class
from app.simulator import SimulatorState
from tests.graph.conftest import FakeSleep, MakeClient
from tests.graph.transports import FailingTransport, InFlightProbe
from tests.graph.virtual_time import VirtualTime, until

CATALOG = "/catalog/entries"


class StaticToken:
    """A token provider that always has the same token."""

    async def token(self) -> str:
        return "t"

    async def invalidate(self) -> None:
        return None


@dataclass
class ScriptedGraph:
    """A fake Graph for GET /deployments/{id}: scripted answers per id (then 200), a log of
    (virtual time, id) per request, and ids whose first request is held until released."""

    time: VirtualTime
    answers: dict[str, list[httpx.Response]] = field(default_factory=dict)
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    sent: list[tuple[float, str]] = field(default_factory=list)

    def hold(self, deployment_id: str) -> asyncio.Event:
        """Keep the first request for `deployment_id` in flight until the event is set."""
        self.held[deployment_id] = asyncio.Event()
        return self.held[deployment_id]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        deployment_id = request.url.path.rsplit("/", 1)[-1]
        self.sent.append((self.time.now, deployment_id))
        held = self.held.pop(deployment_id, None)
        if held is not None:
            await held.wait()
        queue = self.answers.get(deployment_id)
        if queue:
            return queue.pop(0)
        return httpx.Response(200, json={"id": deployment_id})


def throttled(retry_after: int) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": str(retry_after)})


@pytest.fixture
def time() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def fake_graph(time: VirtualTime) -> ScriptedGraph:
    return ScriptedGraph(time)


@pytest.fixture
async def make_client(
    fake_graph: ScriptedGraph, time: VirtualTime
) -> AsyncIterator[Callable[..., GraphClient]]:
    """GraphClients on the scripted Graph, sleeping and reading the clock in virtual time."""
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(fake_graph), base_url="https://graph.example/beta"
    )

    def make(config: GraphClientConfig | None = None) -> GraphClient:
        return GraphClient(
            http, StaticToken(), config, sleep=time.sleep, clock=time.clock, rand=lambda: 1.0
        )

    yield make
    await http.aclose()


def start(graph: GraphClient, deployment_id: str) -> asyncio.Task[object]:
    return asyncio.create_task(graph.get_deployment(deployment_id))


async def finish(*tasks: asyncio.Task[object]) -> None:
    """The tasks' ends; a task still asleep in virtual time fails the test instead of hanging."""
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=1)


async def test_requests_in_flight_never_exceed_the_concurrency(
    make_graph: MakeClient, sim: SimulatorState
) -> None:
    probes: list[InFlightProbe] = []

    def probe(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        probes.append(InFlightProbe(inner))
        return probes[-1]

    graph = make_graph(GraphClientConfig(concurrency=3), transport_wrapper=probe)
    sim.faults.latency_seconds = 0.02
    results = await asyncio.gather(*(graph.list_catalog_entries("feature") for _ in range(12)))
    assert all(result.value for result in results)
    assert probes[0].highest == 3  # the limit, reached and never passed
    assert graph.metrics.calls[("listCatalogEntries", "2xx")] == 12
    assert graph.metrics.in_flight == 0


async def test_one_throttle_holds_every_call_until_the_same_instant(
    make_client: Callable[..., GraphClient], fake_graph: ScriptedGraph, time: VirtualTime
) -> None:
    graph = make_client()
    fake_graph.answers = {"a": [throttled(5)], "b": [httpx.Response(500)]}
    a_answers, b_answers = fake_graph.hold("a"), fake_graph.hold("b")
    tasks = [start(graph, "a"), start(graph, "b")]
    await until(lambda: len(fake_graph.sent) == 2, "a and b sent")
    a_answers.set()
    await time.settle(asleep=1)  # a got 429 + Retry-After: 5 and waits; b is still in flight
    tasks.append(start(graph, "c"))  # a new call after the throttle
    await time.settle(asleep=2)
    b_answers.set()  # b's 500 comes back: its own backoff is 0.5 s, the shared instant is later
    await time.settle(asleep=3)

    assert time.wakes == [5.0, 5.0, 5.0]
    assert fake_graph.sent == [(0.0, "a"), (0.0, "b")]
    time.advance(5.0)
    await finish(*tasks)
    assert sorted(fake_graph.sent[2:]) == [(5.0, "a"), (5.0, "b"), (5.0, "c")]

    metrics = graph.metrics
    assert (metrics.throttles, metrics.retries) == (1, 2)
    assert metrics.calls == {
        ("getDeployment", "4xx"): 1,
        ("getDeployment", "5xx"): 1,
        ("getDeployment", "2xx"): 3,
    }
    assert metrics.throttle_wait_seconds == 5.0 + 5.0 + 4.5  # a, c, and b beyond its backoff
    assert metrics.backoff_wait_seconds == 0.5


async def test_a_shorter_retry_after_keeps_the_instant_a_longer_one_moves_it(
    make_client: Callable[..., GraphClient], fake_graph: ScriptedGraph, time: VirtualTime
) -> None:
    graph = make_client()
    fake_graph.answers = {"a": [throttled(5)], "b": [throttled(2)], "d": [throttled(8)]}
    a_answers, b_answers, d_answers = (fake_graph.hold(i) for i in "abd")
    tasks = [start(graph, "a"), start(graph, "b"), start(graph, "d")]
    await until(lambda: len(fake_graph.sent) == 3, "a, b and d sent")
    a_answers.set()
    await time.settle(asleep=1)
    b_answers.set()
    await time.settle(asleep=2)
    assert time.wakes == [5.0, 5.0]  # b was told 2 s, but the instant stays at 5
    d_answers.set()
    await time.settle(asleep=3)
    assert time.wakes == [5.0, 5.0, 8.0]

    time.advance(5.0)  # a and b wake, see the instant moved to 8, and wait again
    await time.settle(asleep=3)
    assert time.wakes[3:] == [8.0, 8.0]
    assert len(fake_graph.sent) == 3
    time.advance(8.0)
    await finish(*tasks)
    assert [when for when, _ in fake_graph.sent[3:]] == [8.0, 8.0, 8.0]
    assert graph.metrics.throttles == 3
    assert graph.metrics.throttle_wait_seconds == 8.0 * 3


async def test_a_call_queued_for_a_slot_waits_for_a_throttle_that_came_meanwhile(
    make_client: Callable[..., GraphClient], fake_graph: ScriptedGraph, time: VirtualTime
) -> None:
    graph = make_client(GraphClientConfig(concurrency=1))
    fake_graph.answers = {"a": [throttled(5)]}
    a_answers = fake_graph.hold("a")
    tasks = [start(graph, "a"), start(graph, "b")]  # b queues for the only slot
    await until(lambda: len(fake_graph.sent) == 1, "a sent")
    a_answers.set()  # a's 429 frees the slot; b takes it but must not send before 5
    await time.settle(asleep=2)
    assert fake_graph.sent == [(0.0, "a")] and time.wakes == [5.0, 5.0]
    time.advance(5.0)
    await finish(*tasks)
    assert sorted(fake_graph.sent[1:]) == [(5.0, "a"), (5.0, "b")]


async def test_a_call_held_back_beyond_its_budget_ends_without_sending(
    make_client: Callable[..., GraphClient], fake_graph: ScriptedGraph, time: VirtualTime
) -> None:
    graph = make_client(GraphClientConfig(max_retry_wait_seconds=10))
    fake_graph.answers = {"a": [throttled(30)]}
    with pytest.raises(GraphThrottled) as first:
        await graph.get_deployment("a")  # 30 s does not fit in 10: gives up at once
    assert first.value.status == 429
    with pytest.raises(GraphThrottled) as held:
        await graph.get_deployment("b")
    assert (held.value.status, held.value.retry_after, held.value.request_ids) == (None, 30.0, ())
    assert fake_graph.sent == [(0.0, "a")] and time.wakes == []

    time.advance(30.0)
    assert (await graph.get_deployment("b")).value.id == "b"


async def test_waiting_for_the_shared_instant_spends_the_budget(
    make_client: Callable[..., GraphClient], fake_graph: ScriptedGraph, time: VirtualTime
) -> None:
    graph = make_client(GraphClientConfig(max_retry_wait_seconds=10))
    fake_graph.answers = {"a": [throttled(5)], "c": [throttled(6)]}
    a = start(graph, "a")
    await time.settle(asleep=1)
    c = start(graph, "c")  # waits 5 s for the shared instant: 5 of its 10 s are left
    await time.settle(asleep=2)
    time.advance(5.0)
    await finish(a)
    with pytest.raises(GraphThrottled) as caught:
        await finish(c)  # Retry-After: 6 no longer fits
    assert caught.value.status == 429
    assert fake_graph.sent.count((5.0, "c")) == 1 and len(fake_graph.sent) == 3


async def test_a_call_backing_off_holds_no_request_slot(
    make_client: Callable[..., GraphClient], fake_graph: ScriptedGraph, time: VirtualTime
) -> None:
    graph = make_client(GraphClientConfig(concurrency=1))
    fake_graph.answers = {"a": [httpx.Response(500)]}
    a = start(graph, "a")
    await time.settle(asleep=1)  # a backs off after its 500
    b = await asyncio.wait_for(graph.get_deployment("b"), timeout=1)  # the only slot is free
    assert b.value.id == "b"
    time.advance(0.5)
    await finish(a)
    assert fake_graph.sent == [(0.0, "a"), (0.0, "b"), (0.5, "a")]


async def test_metrics_count_calls_retries_throttles_waits_and_tokens(
    make_graph: MakeClient, sim: SimulatorState, sleeper: FakeSleep
) -> None:
    graph = make_graph()
    sim.faults.inject(429, retry_after=2, path_contains=CATALOG)
    sim.faults.inject(500, path_contains=CATALOG)
    await graph.list_catalog_entries("feature")
    sim.token_key = b"rotated-key-rotated-key-rotated!"  # the next call gets a 401 first
    await graph.list_catalog_entries("feature")

    metrics = graph.metrics
    assert metrics.calls == {
        ("listCatalogEntries", "4xx"): 2,
        ("listCatalogEntries", "5xx"): 1,
        ("listCatalogEntries", "2xx"): 2,
    }
    assert (metrics.retries, metrics.throttles, metrics.token_refreshes) == (3, 1, 2)
    assert (metrics.throttle_wait_seconds, metrics.backoff_wait_seconds) == (2.0, 1.0)
    assert sleeper.waits == [2.0, 1.0]

    offline = make_graph(
        GraphClientConfig(max_attempts=1),
        transport_wrapper=lambda inner: FailingTransport(inner, httpx.ConnectError, 1, CATALOG),
    )
    with pytest.raises(GraphUnavailable):
        await offline.list_catalog_entries("quality")
    assert offline.metrics.calls == {("listCatalogEntries", "network"): 1}


def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 202, 404, 429, 503, None)] == [
        "2xx",
        "2xx",
        "4xx",
        "4xx",
        "5xx",
        "network",
    ]


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError):
        GraphClientConfig(concurrency=0)
