"""Fixtures: a simulator state with a frozen clock, and an authenticated in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.simulator import SimulatorState, create_simulator_app
from app.simulator.clock import SimulatorClock
from tests.simulator.support import NOW


@pytest.fixture
def state() -> SimulatorState:
    """A fresh simulator whose clock is frozen at NOW; 202 changes wait 5 s (simulated)."""
    return SimulatorState(clock=SimulatorClock(NOW))


@pytest.fixture
async def client(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the simulator in-process, with a valid bearer token."""
    app = create_simulator_app(state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="https://graph.test",
        headers={"Authorization": f"Bearer {state.issue_token()}"},
    ) as http:
        yield http


@pytest.fixture
async def anon(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client to the same simulator without any token."""
    app = create_simulator_app(state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://graph.test"
    ) as http:
        yield http
