"""The Graph client's HTTP/1.1 connections, kept for reuse by a pool whose work per call does not
grow with the number of calls in flight."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator

import httpcore


class ConnectionPool:
    """Up to `max_connections` HTTP/1.1 connections, each carrying one call at a time. A finished
    call's connection waits, idle, for the next call to its origin (the most recently used first)
    and is closed once it has been idle for `keepalive_expiry` seconds, or when its server has
    closed it. A call that finds every connection busy waits for one, at most for httpx's pool
    timeout (httpcore.PoolTimeout).

    It takes the place of httpcore's AsyncConnectionPool (1.0.9), which has two problems when many
    calls are in flight. Each time a call starts or ends, it scans all its connections once per
    idle connection. It also closes idle connections whenever the pool holds more than
    max_keepalive_connections in all, busy ones included (encode/httpcore PR #1000). With the API's
    50 readers, each call then opened a TLS connection of its own. Raising the limit out of the
    way made the scanning cost 15 % of the API's CPU instead."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        keepalive_expiry: float,
        network_backend: httpcore.AsyncNetworkBackend,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._network_backend = network_backend
        self._open: set[httpcore.AsyncHTTPConnection] = set()
        # Per origin (scheme, host, port), idle connections in the order they became idle: the
        # newest at the right.
        self._idle: dict[tuple[bytes, bytes, int], deque[httpcore.AsyncHTTPConnection]] = {}
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send the request on an idle connection to its origin, or a new one; the response's
        body hands the connection back when it is closed."""
        origin = request.url.origin
        pool_timeout = request.extensions.get("timeout", {}).get("pool")
        while True:
            connection = await self._acquire(origin, pool_timeout)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                await self.release(connection, origin)  # not usable after all: another
                continue
            except BaseException:
                await self.release(connection, origin)  # httpcore has closed it
                raise
            assert isinstance(response.stream, AsyncIterable)
            return httpcore.Response(
                status=response.status,
                headers=response.headers,
                content=_ReleasedOnClose(response.stream, self, connection, origin),
                extensions=response.extensions,
            )

    async def aclose(self) -> None:
        """Close every connection, busy or idle."""
        connections, self._open = list(self._open), set()
        self._idle.clear()
        for connection in connections:
            await connection.aclose()

    async def _acquire(
        self, origin: httpcore.Origin, pool_timeout: float | None
    ) -> httpcore.AsyncHTTPConnection:
        loop = asyncio.get_running_loop()
        deadline = None if pool_timeout is None else loop.time() + pool_timeout
        while True:
            idle = self._idle.get(_key(origin))
            while idle:
                connection = idle.pop()
                if connection.is_available() and not connection.has_expired():
                    return connection
                await self._close(connection)
            if len(self._open) < self._max_connections:
                connection = httpcore.AsyncHTTPConnection(
                    origin=origin,
                    ssl_context=self._ssl_context,
                    keepalive_expiry=self._keepalive_expiry,
                    network_backend=self._network_backend,
                )
                self._open.add(connection)
                return connection
            spare = next((other for other in self._idle.values() if other), None)
            if spare is not None:  # another origin's idle connection makes room
                await self._close(spare.popleft())
                continue
            await self._wait(loop, deadline)

    async def _wait(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        """Until a connection is released or closed; httpcore.PoolTimeout at `deadline`."""
        released = loop.create_future()
        self._waiting.append(released)
        try:
            await asyncio.wait_for(released, None if deadline is None else deadline - loop.time())
        except TimeoutError:
            raise httpcore.PoolTimeout("No connection to Graph became free in time.") from None
        except BaseException:
            if released.done() and not released.cancelled():
                self._wake_one()  # woken, then cancelled: the next waiter gets the connection
            raise
        finally:
            if released in self._waiting:
                self._waiting.remove(released)

    async def release(
        self, connection: httpcore.AsyncHTTPConnection, origin: httpcore.Origin
    ) -> None:
        """A call is over: its connection waits for the next call, or is closed."""
        if connection not in self._open:
            return  # closed with the pool
        if connection.is_available() and not connection.has_expired():
            idle = self._idle.setdefault(_key(origin), deque())
            idle.append(connection)
            # The oldest go first: idle for too long, or closed by the server meanwhile.
            while idle and idle[0].has_expired():
                await self._close(idle.popleft())
            self._wake_one()
        else:
            await self._close(connection)

    async def _close(self, connection: httpcore.AsyncHTTPConnection) -> None:
        self._open.discard(connection)
        self._wake_one()
        await connection.aclose()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _key(origin: httpcore.Origin) -> tuple[bytes, bytes, int]:
    """An origin as a dictionary key (httpcore.Origin is not hashable)."""
    return origin.scheme, origin.host, origin.port


class _ReleasedOnClose:
    """A response body that hands its connection back to the pool once it is closed."""

    def __init__(
        self,
        stream: AsyncIterable[bytes],
        pool: ConnectionPool,
        connection: httpcore.AsyncHTTPConnection,
        origin: httpcore.Origin,
    ) -> None:
        self._stream = stream
        self._pool = pool
        self._connection = connection
        self._origin = origin
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            closing = getattr(self._stream, "aclose", None)
            if closing is not None:
                await closing()
        finally:
            await self._pool.release(self._connection, self._origin)
