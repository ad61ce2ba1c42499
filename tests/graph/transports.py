"""Transport wrappers that observe or break the wire between the client and the simulator."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx


@dataclass
class SpyTransport(httpx.AsyncBaseTransport):
    """Passes every request through and keeps it, headers included."""

    inner: httpx.AsyncBaseTransport
    requests: list[httpx.Request] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@dataclass
class FailingTransport(httpx.AsyncBaseTransport):
    """Raises `error` (without sending) for the first `count` requests whose path holds `path`."""

    inner: httpx.AsyncBaseTransport
    error: type[httpx.TransportError]
    count: int
    path: str = "/beta/"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.count > 0 and self.path in request.url.path:
            self.count -= 1
            raise self.error("injected by the test", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class TimeoutTransport(httpx.AsyncBaseTransport):
    """Gives up on an answer after `seconds` like a real read timeout (ASGITransport has none)."""

    inner: httpx.AsyncBaseTransport
    seconds: float

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self.inner.handle_async_request(request), self.seconds)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("read timed out", request=request) from exc


@dataclass
class InFlightProbe(httpx.AsyncBaseTransport):
    """Counts Graph requests (under /beta/) being answered at once; keeps the highest count."""

    inner: httpx.AsyncBaseTransport
    in_flight: int = 0
    highest: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith("/beta/"):
            return await self.inner.handle_async_request(request)
        self.in_flight += 1
        self.highest = max(self.highest, self.in_flight)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1
