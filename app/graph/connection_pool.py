"""The Graph client's HTTP/1.1 connections, kept for reuse by a pool whose work per call does not
grow with the number of calls in flight."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator

import httpx

from app.graph.http11 import Http11Connection, Origin


class ConnectionPool:
    """Up to `max_connections` HTTP/1.1 connections, each carrying one call at a time. A finished
    call's connection waits, idle, for the next call to its origin (the most recently used first)
    and is closed once it has been idle for `keepalive_expiry` seconds, or when its server has
    closed it. A call that finds every connection busy waits for one, at most for httpx's pool
    timeout (httpx.PoolTimeout).

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
    ) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._open: set[Http11Connection] = set()
        # Per origin, idle connections in the order they became idle: the newest at the right.
        self._idle: dict[Origin, deque[Http11Connection]] = {}
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request on an idle connection to its origin, or a new one; the response's
        body hands the connection back when it is closed."""
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        connection = await self._acquire(origin, timeouts.get("pool"))
        try:
            status, reason, headers = await connection.send(request)
        except BaseException:
            await self.release(connection)  # the connection has closed itself
            raise
        return httpx.Response(
            status_code=status,
            headers=headers,
            stream=_ReleasedOnClose(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        """Close every connection, busy or idle."""
        connections, self._open = list(self._open), set()
        self._idle.clear()
        for connection in connections:
            await connection.aclose()

    async def _acquire(self, origin: Origin, pool_timeout: float | None) -> Http11Connection:
        loop = asyncio.get_running_loop()
        deadline = None if pool_timeout is None else loop.time() + pool_timeout
        while True:
            idle = self._idle.get(origin)
            while idle:
                connection = idle.pop()
                if connection.is_available() and not connection.has_expired():
                    return connection
                await self._close(connection)
            if len(self._open) < self._max_connections:
                connection = Http11Connection(origin, self._ssl_context, self._keepalive_expiry)
                self._open.add(connection)
                return connection
            spare = next((other for other in self._idle.values() if other), None)
            if spare is not None:  # another origin's idle connection makes room
                await self._close(spare.popleft())
                continue
            await self._wait(loop, deadline)

    async def _wait(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        """Until a connection is released or closed; httpx.PoolTimeout at `deadline`."""
        released = loop.create_future()
        self._waiting.append(released)
        try:
            await asyncio.wait_for(released, None if deadline is None else deadline - loop.time())
        except TimeoutError:
            raise httpx.PoolTimeout("No connection to Graph became free in time.") from None
        except BaseException:
            if released.done() and not released.cancelled():
                self._wake_one()  # woken, then cancelled: the next waiter gets the connection
            raise
        finally:
            if released in self._waiting:
                self._waiting.remove(released)

    async def release(self, connection: Http11Connection) -> None:
        """A call is over: its connection waits for the next call, or is closed."""
        if connection not in self._open:
            return  # closed with the pool
        if connection.is_available() and not connection.has_expired():
            idle = self._idle.setdefault(connection.origin, deque())
            idle.append(connection)
            # The oldest go first: idle for too long, or closed by the server meanwhile.
            while idle and idle[0].has_expired():
                await self._close(idle.popleft())
            self._wake_one()
        else:
            await self._close(connection)

    async def _close(self, connection: Http11Connection) -> None:
        self._open.discard(connection)
        self._wake_one()
        await connection.aclose()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class _ReleasedOnClose(httpx.AsyncByteStream):
    """A response body, read from its connection, that ends the call and hands the connection
    back to the pool once it is closed."""

    def __init__(
        self, pool: ConnectionPool, connection: Http11Connection, read_timeout: float | None
    ) -> None:
        self._pool = pool
        self._connection = connection
        self._read_timeout = read_timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._connection.body(self._read_timeout):
            yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._connection.finish()
        await self._pool.release(self._connection)
