"""httpcore's network layer on asyncio's own transports (uvloop's where it runs), for the Graph
client: the same HTTP/1.1 connections as httpx's default, with less work per call.

httpx's default network layer goes through anyio: every read and write of a call enters a
cancel scope, looks up the current task and, before a pooled connection is reused, polls its
socket with select(). Here a connection is an asyncio protocol that keeps what arrived in a
buffer: a read returns from it (and arms a timer only when it must wait), and a pooled
connection is known to be unusable when its buffer is not empty or its peer has closed it.
"""

# The `timeout` parameters are httpcore's interface (AsyncNetworkStream, AsyncNetworkBackend).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

UNSENT_LIMIT = 64 * 1024  # bytes of a request kept to send together

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class _Connection(asyncio.Protocol):
    """What arrives on one connection, and the waiters for it."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.lost: BaseException | None = None
        self.closed = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport: HTTP/1.1 never half-closes a connection

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.lost = exc
        self._wake_reader()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    async def wait_readable(self, timeout: float | None) -> None:
        """Until data, end of stream or loss arrives (httpcore.ReadTimeout after `timeout`)."""
        self._readable = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._readable
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(f"no data from Graph within {timeout} s") from exc
        finally:
            self._readable = None

    async def drained(self, timeout: float | None) -> None:
        """Until the transport takes more (httpcore.WriteTimeout after `timeout`)."""
        if self._writable is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._writable)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"Graph took no data for {timeout} s") from exc


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection (plain or TLS) as httpcore reads and writes it."""

    def __init__(self, connection: _Connection, transport: asyncio.Transport) -> None:
        self._connection = connection
        self._transport = transport
        self._unsent: list[bytes] = []
        self._unsent_size = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._send_unsent()
        connection = self._connection
        if not connection.buffer and not connection.eof and not connection.closed:
            await connection.wait_readable(timeout)
        if connection.buffer:
            data = bytes(connection.buffer[:max_bytes])
            del connection.buffer[:max_bytes]
            return data
        if connection.lost is not None:
            raise httpcore.ReadError(str(connection.lost) or type(connection.lost).__name__)
        return b""  # end of stream: httpcore reports a connection closed by the server

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Keep `buffer` to send with what follows it before the response is read: httpcore
        writes a request's headers and its body separately, and sent apart they cost two
        TLS records, two segments and two wake-ups of the server (the headers' write was the
        largest part of the Graph client's time under py-spy). Past 64 kB it is sent at once,
        with the transport's flow control."""
        if not buffer:
            return
        self._unsent.append(buffer)
        self._unsent_size += len(buffer)
        if self._unsent_size >= UNSENT_LIMIT:
            self._send_unsent()
            await self._connection.drained(timeout)

    def _send_unsent(self) -> None:
        if not self._unsent:
            return
        data = self._unsent[0] if len(self._unsent) == 1 else b"".join(self._unsent)
        self._unsent.clear()
        self._unsent_size = 0
        if self._connection.closed or self._transport.is_closing():
            # None of the request went out; httpcore reports a write error, as it did when
            # each write was sent at once.
            raise httpcore.WriteError("the connection to Graph is closed")
        self._transport.write(data)

    async def aclose(self) -> None:
        self._unsent.clear()  # a request given up before its response: never sent
        self._unsent_size = 0
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                secured = await loop.start_tls(
                    self._transport, self._connection, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from exc
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        assert secured is not None
        return AsyncioStream(self._connection, secured)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Asked of an idle pooled connection: data or a close that arrived while it was idle
            # means the server is done with it.
            connection = self._connection
            return bool(connection.buffer) or connection.eof or connection.closed
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens AsyncioStream connections."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection, host, port, local_addr=local
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no connection to {host}:{port} in {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return AsyncioStream(connection, transport)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
