"""A Graph client that sends nothing: the service's own GraphClient over a transport that records
each write it is asked to make and answers it as Graph would accept it. A dry run's plan is what
this client recorded, so it comes from the code that builds the real calls and cannot differ."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from app.graph.client import GraphClient, GraphClientConfig

BASE_URL = "https://graph.dry-run.invalid/beta"
NEW_AUDIENCE_ID = "{newAudienceId}"
NEW_DEPLOYMENT_ID = "{newDeploymentId}"
"""Stand-ins for the ids Graph assigns when the real request runs."""


@dataclass(frozen=True)
class PlannedCall:
    """One Graph write: method, path under GRAPH_BASE_URL, and JSON body."""

    method: str
    path: str
    body: dict[str, Any] | None

    @property
    def devices(self) -> int:
        """How many devices the call names (assets to enroll, audience members, exclusions)."""
        if not self.body:
            return 0
        lists = ("assets", "addMembers", "removeMembers", "addExclusions", "removeExclusions")
        return sum(len(self.body.get(name) or ()) for name in lists)


@dataclass
class PlanStep:
    """Calls of one kind in a plan: the first call's body, and how many such calls."""

    method: str
    path: str
    body: dict[str, Any] | None
    calls: int
    devices: int


def summarise(calls: Iterable[PlannedCall]) -> list[PlanStep]:
    """The calls in order of first appearance, repeated calls of one method and path (the
    chunks of a large change) folded into one step with their count."""
    steps: dict[tuple[str, str], PlanStep] = {}
    for call in calls:
        step = steps.get((call.method, call.path))
        if step is None:
            steps[(call.method, call.path)] = PlanStep(
                call.method, call.path, call.body, 1, call.devices
            )
        else:
            step.calls += 1
            step.devices += call.devices
    return list(steps.values())


class PlanningTransport(httpx.AsyncBaseTransport):
    """Records every request and answers it as Graph answers an accepted write. It refuses
    reads: what a request must know of Graph it reads with the real client, before planning."""

    def __init__(self, calls: list[PlannedCall]) -> None:
        self.calls = calls
        self._base_path = httpx.URL(BASE_URL).path.rstrip("/")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            raise RuntimeError(f"a plan does not read Graph: GET {request.url}")
        path = unquote(request.url.path.removeprefix(self._base_path))
        content = await request.aread()
        body = json.loads(content) if content else None
        self.calls.append(PlannedCall(request.method, path, body))
        return _accepted(request.method, path, body)


def _accepted(method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    """Graph's answer to an accepted write (the ids it would assign are stand-ins)."""
    headers = {"request-id": "dry-run"}
    if method == "POST" and path.endswith("/deploymentAudiences"):
        return httpx.Response(201, json={"id": NEW_AUDIENCE_ID}, headers=headers)
    if method == "POST" and path.endswith("/deployments"):
        state = {"effectiveValue": "scheduled", "requestedValue": "none", "reasons": []}
        created = {**(body or {}), "id": NEW_DEPLOYMENT_ID, "state": state}
        return httpx.Response(201, json=created, headers=headers)
    if method == "DELETE":
        return httpx.Response(204, headers=headers)
    return httpx.Response(202, headers=headers)


class _NoToken:
    """Nothing is sent, so no token is needed."""

    async def token(self) -> str:
        return "dry-run"

    async def invalidate(self) -> None:
        return None


def planning_client(calls: list[PlannedCall], config: GraphClientConfig) -> GraphClient:
    """A GraphClient with `config` (chunk size included) whose writes land in `calls`."""
    http = httpx.AsyncClient(transport=PlanningTransport(calls), base_url=BASE_URL)
    return GraphClient(http, _NoToken(), config)
