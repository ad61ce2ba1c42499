"""One HTTP/1.1 connection of the Graph client (plain or TLS) over asyncio's own transports
(uvloop's where it runs), carrying one call at a time; answers are parsed by httptools (llhttp,
the C parser uvicorn serves requests with).

It takes the place of httpcore's HTTP/1.1 connection, its h11 parser and the network layer it
needed. Measured against the simulator over TLS (bench/graph_calls.py), the client's CPU per
GET went from 0.50 ms to 0.26 ms, and per enrollAssets of 200 devices from 0.60 ms to 0.42 ms;
most of what is left is httpx's own request and response objects, the JSON body and the write
(docs/benchmarks.md). Errors are httpx's, as httpx's own transport raises them: ConnectError and
ConnectTimeout, WriteError and WriteTimeout, ReadError and ReadTimeout, RemoteProtocolError.
"""

# The `timeout` parameters are httpx's per-phase timeouts, applied to each wait of that phase.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

WRITE_CHUNK = 64 * 1024
"""Bytes of a request gathered before they are written: a request's head and a body up to this
size go out in one write (one TLS record, one segment, one wake-up of the server); a larger
body goes as it comes, each piece once the transport has taken the one before."""

READ_PAUSE = 1024 * 1024
"""Bytes of an answer held unread before the connection stops reading from its socket."""

Origin = tuple[str, str, int]
"""scheme, host, port"""

NO_BODY_STATUSES = frozenset({204, 304})

# What would end a header line early, or make a name that is not one (as h11 refused them).
_UNSAFE_IN_HEADER = re.compile(rb"[\x00-\x20:\x7f]")
_UNSAFE_IN_VALUE = re.compile(rb"[\x00\r\n]")


class Http11Connection(asyncio.Protocol):
    """A connection to one origin, opened by its first call. Between calls it waits, idle, for
    the next one, for as long as it has not been idle for `keepalive_expiry` seconds and the
    server has neither closed it nor sent anything unasked."""

    def __init__(self, origin: Origin, ssl_context: ssl.SSLContext, keepalive_expiry: float):
        self.origin = origin
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._busy = False
        self._reusable = True  # False once anything but whole answers to our calls arrived
        self._closed = False
        self._head_only = False
        self._idle_since = 0.0
        self._writable: asyncio.Future[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._reset_answer()

    def _reset_answer(self) -> None:
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._status = 0
        self._interim = False
        self._head_done = False
        self._complete = False
        self._keep_alive = False
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._failure: httpx.TransportError | None = None

    # ---- for the pool -------------------------------------------------------------------------

    def is_available(self) -> bool:
        """Free for the next call (a connection not opened yet is)."""
        if self._busy or not self._reusable or self._closed:
            return False
        return self._transport is None or not self._transport.is_closing()

    def has_expired(self) -> bool:
        """Idle for longer than keepalive_expiry, or of no more use."""
        if not self.is_available():
            return True
        if self._transport is None:
            return False
        idle = asyncio.get_running_loop().time() - self._idle_since
        return idle > self._keepalive_expiry

    async def aclose(self) -> None:
        """Close the connection, whatever it is doing (a call in progress fails)."""
        self.close()

    def close(self) -> None:
        self._reusable = False
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    # ---- one call -----------------------------------------------------------------------------

    async def send(self, request: httpx.Request) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Send the request and read its answer's head: status, reason and headers. The body
        follows from `body`; `finish` ends the call."""
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        self._busy = True
        self._reset_answer()
        self._head_only = request.method == "HEAD"
        try:
            if self._transport is None:
                await self._connect(timeouts.get("connect"))
            await self._write_request(request, timeouts.get("write"))
            while not self._head_done:
                await self._wait(timeouts.get("read"))
        except BaseException:
            self.close()  # cut short or failed: what the server makes of it is unknown
            raise
        return self._status, self._reason, self._headers

    async def body(self, read_timeout: float | None) -> AsyncIterator[bytes]:
        """The answer's body as it arrives."""
        try:
            while True:
                if self._body:
                    part = self._body[0] if len(self._body) == 1 else b"".join(self._body)
                    self._body.clear()
                    self._buffered = 0
                    if self._reading_paused and self._transport is not None:
                        self._reading_paused = False
                        self._transport.resume_reading()
                    yield part
                elif self._complete:
                    return
                else:
                    await self._wait(read_timeout)
        except BaseException:
            self.close()
            raise

    def finish(self) -> None:
        """The call is over: the connection waits for the next if the whole answer was read and
        both sides keep it open; otherwise it is closed."""
        whole = self._complete and not self._body and self._failure is None
        self._busy = False
        if whole and self._keep_alive and self.is_available():
            self._idle_since = asyncio.get_running_loop().time()
        else:
            self.close()

    async def _connect(self, timeout: float | None) -> None:
        scheme, host, port = self.origin
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"the Graph client speaks http and https, not {scheme}")
        tls = self._ssl_context if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: self, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in {timeout} s") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        assert self._transport is not None
        self._transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )

    async def _write_request(self, request: httpx.Request, timeout: float | None) -> None:
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
        chunked = False
        for name, value in request.headers.raw:
            if _UNSAFE_IN_HEADER.search(name) or _UNSAFE_IN_VALUE.search(value):
                raise httpx.LocalProtocolError(f"refusing to send the header {name!r}")
            head.append(b"%s: %s\r\n" % (name, value))
            if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
                chunked = True
        head.append(b"\r\n")
        pending, size = head, sum(map(len, head))
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for part in request.stream:
            if not part:
                continue
            if chunked:
                pending += [b"%x\r\n" % len(part), part, b"\r\n"]
            else:
                pending.append(part)
            size += len(part)
            if size >= WRITE_CHUNK:
                self._write(pending)
                pending, size = [], 0
                await self._drained(timeout)
        if chunked:
            pending.append(b"0\r\n\r\n")
        if pending:
            self._write(pending)

    def _write(self, parts: list[bytes]) -> None:
        transport = self._transport
        if self._closed or transport is None or transport.is_closing():
            raise httpx.WriteError("the connection to Graph is closed")
        transport.write(b"".join(parts))

    async def _drained(self, timeout: float | None) -> None:
        """Until the transport takes more (WriteTimeout after `timeout`)."""
        if self._writable is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._writable)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(f"Graph took no data for {timeout} s") from exc
        if self._closed:
            raise httpx.WriteError("the connection to Graph was closed while writing")

    async def _wait(self, timeout: float | None) -> None:
        """Until more of the answer arrives, or the connection fails (ReadTimeout after
        `timeout` of silence)."""
        if self._failure is not None:
            raise self._failure
        loop = asyncio.get_running_loop()
        self._wakeup = woken = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _time_out, woken, timeout)
        try:
            await woken
        finally:
            self._wakeup = None
            if timer is not None:
                timer.cancel()
        if self._failure is not None:
            raise self._failure

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _fail(self, failure: httpx.TransportError) -> None:
        if self._failure is None and not self._complete:
            self._failure = failure
        self._reusable = False
        self._wake()

    # ---- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if not self._busy or self._complete:
            self._reusable = False  # unasked: whatever it is, the connection is done
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(httpx.RemoteProtocolError(f"Graph's answer is not valid HTTP/1.1: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        self._reusable = False
        if self._busy and self._head_done and not self._complete and self._until_close():
            self._complete = True  # a body without a length ends with the connection
            self._wake()
        elif self._busy:
            self._fail(_ended_early(self._head_done))
        return False  # close the transport: HTTP/1.1 never half-closes a connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._reusable = False
        if self._busy:
            self._fail(httpx.ReadError(str(exc)) if exc else _ended_early(self._head_done))
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # ---- httptools' callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            self._reusable = False  # a second answer to one call

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # informational: the answer proper follows
            self._interim = True
            self._reason, self._headers = b"", []
            return
        self._status = status
        self._head_done = True
        if self._head_only:  # no body follows, whatever the headers say
            self._complete = True
            self._reusable = False  # the parser would take the next answer for this body
        self._wake()

    def on_body(self, body: bytes) -> None:
        if not body:
            return
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > READ_PAUSE and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        self._wake()

    def _until_close(self) -> bool:
        """The answer's body has no length: it ends when the server closes the connection."""
        if self._status in NO_BODY_STATUSES:
            return False
        names = {name.lower() for name, _ in self._headers}
        return b"content-length" not in names and b"transfer-encoding" not in names


def _time_out(woken: asyncio.Future[None], timeout: float) -> None:
    if not woken.done():
        woken.set_exception(httpx.ReadTimeout(f"no data from Graph within {timeout} s"))


def _ended_early(head_done: bool) -> httpx.RemoteProtocolError:
    if head_done:
        return httpx.RemoteProtocolError("Graph closed the connection in the middle of an answer")
    return httpx.RemoteProtocolError("Graph closed the connection without answering")
