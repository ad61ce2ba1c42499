"""The httpx client the Graph calls go through: httpx's AsyncClient without a cookie jar."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

from app.graph.asyncio_network import AsyncioBackend
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


_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    # Most specific first: each httpcore error becomes the httpx error of the same name.
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore's errors as the httpx errors the Graph client handles (as httpx maps them)."""
    try:
        yield
    except Exception as exc:
        for raised, mapped in _HTTPCORE_ERRORS:
            if isinstance(exc, raised):
                raise mapped(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    """A response body read from httpcore, its errors mapped."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        closing = getattr(self._stream, "aclose", None)
        if closing is not None:
            await closing()


class AsyncioTransport(httpx.AsyncBaseTransport):
    """httpx's HTTP/1.1 transport over app.graph.asyncio_network instead of anyio, with a pool
    of its own (app.graph.connection_pool): the same limits, TLS context and errors."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits = DEFAULT_LIMITS) -> None:
        assert limits.max_connections is not None and limits.keepalive_expiry is not None
        self._pool = ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        sent = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = await self._pool.handle_async_request(sent)
        assert isinstance(answer.stream, AsyncIterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_ResponseStream(answer.stream),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
