"""The httpx client the Graph calls go through: httpx's AsyncClient without a cookie jar."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from app.graph.connection_pool import ConnectionPool

DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=5
)
"""The Graph client's connections: at most 100 open, an idle one closed after 5 s. Any of them
may stay open while idle: AsyncioTransport's pool keeps every one (app.graph.connection_pool).
httpx's own transport, used when a proxy is named, is httpcore's pool, which closes every idle
connection while it holds more than max_keepalive_connections in all, busy ones included
(encode/httpcore PR #1000); with httpx's default of 20, more calls than that in flight (the API
allows 64) would each open a TLS connection of their own."""


class NoCookies(httpx.Cookies):
    """A jar that keeps nothing: Set-Cookie headers in responses are ignored."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep nothing (httpx calls this for every response)."""


class CookielessClient(httpx.AsyncClient):
    """httpx.AsyncClient that keeps no cookies, so it sends none either. Graph authenticates
    each call with its bearer token and needs none; a cookie one response set would otherwise
    ride along on later calls. It also skips the parsing httpx does for every response through
    urllib's cookie machinery (about 12 µs per call here)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the Graph client keeps no cookies")


class AsyncioTransport(httpx.AsyncBaseTransport):
    """httpx's HTTP/1.1 transport, its calls made by a pool of our own
    (app.graph.connection_pool) of HTTP/1.1 connections over asyncio's transports
    (app.graph.http11) instead of httpcore's over anyio: the same limits, TLS context and
    errors as httpx's own."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits = DEFAULT_LIMITS) -> None:
        assert limits.max_connections is not None and limits.keepalive_expiry is not None
        self._pool = ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        await self._pool.aclose()
