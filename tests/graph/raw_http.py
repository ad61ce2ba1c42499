"""Scripted plain-HTTP servers on loopback for the Graph client's HTTP stack, and that client
pointed at them."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

import httpx

from app.graph.http_client import DEFAULT_LIMITS, AsyncioTransport, CookielessClient

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""What a RawServer does with each connection."""


class RawServer:
    """A plain-HTTP server on loopback scripted per connection, counting its connections and
    those that have ended (the script returned, or the client closed the connection)."""

    def __init__(self, handle: Script) -> None:
        self.handle = handle
        self.connections = 0
        self.ended = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handle(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                self.ended += 1
                writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (Content-Length bodies only)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


def answer(body: bytes, *, close: bool = False) -> bytes:
    connection = b"close" if close else b"keep-alive"
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: "
        + connection
        + b"\r\n\r\n"
    ) + body


def plain_client(
    url: str, timeout: float = 10, limits: httpx.Limits = DEFAULT_LIMITS
) -> httpx.AsyncClient:
    """The live Graph client's HTTP stack (AsyncioTransport) pointed at a plain-HTTP server."""
    transport = AsyncioTransport(ssl.create_default_context(), limits)
    return CookielessClient(base_url=url, timeout=timeout, transport=transport)


def request_line(head: bytes) -> bytes:
    """An answer whose body is the first line of the request `head`."""
    return answer(head.split(b"\r\n")[0])


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A RawServer script: answer every request on the connection with its request line."""
    while True:
        head, _ = await read_request(reader)
        writer.write(request_line(head))


def holding(path: bytes, release: asyncio.Event) -> Script:
    """A RawServer script: a request for `path` is answered once `release` is set, or never if
    the client closes the connection first; every other request at once. Answers carry the
    request line."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if head.split(b" ")[1] == path:
                left = asyncio.ensure_future(reader.read())  # b"" once the client closes
                released = asyncio.ensure_future(release.wait())
                await asyncio.wait({left, released}, return_when=asyncio.FIRST_COMPLETED)
                left.cancel()
                released.cancel()
                await asyncio.gather(left, released, return_exceptions=True)
                if not release.is_set():
                    return
            writer.write(request_line(head))

    return script


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    """Wait until `condition` holds (what a server notices arrives a moment later)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - what it watches has no event to wait on
            await asyncio.sleep(0.01)
