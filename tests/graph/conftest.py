"""GraphClient against the simulator in-process, with a fake sleep that records the waits; and a
runner of coroutines on each event loop the service runs on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import uvloop

from app.graph.auth import ClientCredentialsTokenProvider
from app.graph.client import GraphClient, GraphClientConfig
from app.graph.factory import SIMULATOR_BASE_URL, SIMULATOR_ORIGIN
from app.simulator import SimulatorState, create_simulator_app


@dataclass
class FakeSleep:
    """Records every requested wait instead of waiting, and moves its clock on by it."""

    waits: list[float] = field(default_factory=list)
    now: float = 0.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        """The fake monotonic clock the client reads."""
        return self.now


@pytest.fixture
def sim() -> SimulatorState:
    """A fresh simulator applying 202 changes at once, with fixed credentials."""
    return SimulatorState(synchronous=True, client_id="test-client", client_secret="test-secret")


@pytest.fixture
def sleeper() -> FakeSleep:
    return FakeSleep()


MakeClient = Callable[..., GraphClient]


@pytest.fixture
async def make_graph(sim: SimulatorState, sleeper: FakeSleep) -> AsyncIterator[MakeClient]:
    """A factory of GraphClients on the simulator; `transport_wrapper` can wrap the transport."""
    clients: list[httpx.AsyncClient] = []

    def make(
        config: GraphClientConfig | None = None,
        *,
        rand: Callable[[], float] = lambda: 1.0,
        transport_wrapper: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]
        | None = None,
    ) -> GraphClient:
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=create_simulator_app(sim))
        if transport_wrapper is not None:
            transport = transport_wrapper(transport)
        http = httpx.AsyncClient(transport=transport, base_url=SIMULATOR_BASE_URL)
        clients.append(http)
        tokens = ClientCredentialsTokenProvider(
            http,
            token_url=f"{SIMULATOR_ORIGIN}/test-tenant/oauth2/v2.0/token",
            client_id="test-client",
            client_secret="test-secret",
        )
        return GraphClient(http, tokens, config, sleep=sleeper, rand=rand, clock=sleeper.clock)

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
def graph(make_graph: MakeClient) -> GraphClient:
    """A client with default config (200 ids per call, 5 attempts, 60 s wait budget)."""
    return make_graph()


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Awaitable[object]], object]:
    """Run a coroutine to completion on a fresh loop of the parametrised kind."""

    def runner(coroutine: Awaitable[object]) -> object:
        with asyncio.Runner(loop_factory=LOOPS[request.param]) as loop_runner:
            return loop_runner.run(coroutine)  # type: ignore[arg-type]

    return runner
