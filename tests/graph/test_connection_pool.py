"""The Graph client's connection pool (app.graph.connection_pool), through the live client's HTTP
stack against scripted servers: calls beyond its size wait for a connection, and at most for the
pool timeout; idle connections are reused until they expire; a connection left mid-answer, or
under a cancelled call, is closed and its place freed; closing the client closes them all. Each
test runs on asyncio's default event loop and on uvloop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.graph.raw_http import (
    RawServer,
    answer,
    holding,
    keep_answering,
    plain_client,
    read_request,
    request_line,
    until,
)

Run = Callable[[Awaitable[object]], object]


def limits(max_connections: int = 100, keepalive_expiry: float = 5) -> httpx.Limits:
    return httpx.Limits(max_connections=max_connections, keepalive_expiry=keepalive_expiry)


def test_calls_beyond_its_size_wait_for_a_connection_and_share_them(run: Run) -> None:
    async def slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            await asyncio.sleep(0.02)
            writer.write(request_line(head))

    async def scenario() -> tuple[list[bytes], int]:
        server = RawServer(slowly)
        async with server as url, plain_client(url, limits=limits(max_connections=2)) as http:
            answers = await asyncio.gather(*(http.get(f"/{n}") for n in range(8)))
        return [a.content for a in answers], server.connections

    bodies, connections = run(scenario())  # type: ignore[misc]
    assert bodies == [f"GET /{n} HTTP/1.1".encode() for n in range(8)]
    assert connections == 2


def test_a_call_that_gets_no_connection_in_time_is_a_pool_timeout(run: Run) -> None:
    async def scenario() -> tuple[float, bytes, bytes, int]:
        release = asyncio.Event()
        server = RawServer(holding(b"/held", release))
        async with server as url, plain_client(url, limits=limits(max_connections=1)) as http:
            held = asyncio.create_task(http.get("/held"))
            await until(lambda: server.connections == 1)
            started = time.monotonic()
            with pytest.raises(httpx.PoolTimeout):
                await http.get("/waits", timeout=httpx.Timeout(5, pool=0.2))
            waited = time.monotonic() - started
            release.set()
            first = (await held).content
            after = (await http.get("/after")).content
        return waited, first, after, server.connections

    waited, first, after, connections = run(scenario())  # type: ignore[misc]
    assert 0.15 < waited < 3
    assert (first, after) == (b"GET /held HTTP/1.1", b"GET /after HTTP/1.1")
    assert connections == 1  # the call after the timeout went over the freed connection


def test_an_idle_connection_is_reused_until_it_expires_then_closed(run: Run) -> None:
    async def scenario() -> tuple[int, int, int]:
        server = RawServer(keep_answering)
        async with server as url, plain_client(url, limits=limits(keepalive_expiry=0.2)) as http:
            await http.get("/1")
            await http.get("/2")  # at once: the same connection
            reused = server.connections
            await asyncio.sleep(0.4)
            await http.get("/3")  # expired meanwhile: closed, and a new one
            await until(lambda: server.ended == 1)
            return reused, server.connections, server.ended

    assert run(scenario()) == (1, 2, 1)


def test_an_answer_left_before_its_end_closes_its_connection(run: Run) -> None:
    async def scenario() -> tuple[bytes, bytes, int, int]:
        async def large(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head, _ = await read_request(reader)
                writer.write(answer(head.split(b" ")[1] * 200_000))

        server = RawServer(large)
        async with server as url, plain_client(url) as http:
            async with http.stream("GET", "/left") as left:
                part = await anext(left.aiter_bytes())
            whole = (await http.get("/read")).content
            await until(lambda: server.ended == 1)
            return part[:5], whole[:5], server.connections, len(whole)

    part, whole, connections, length = run(scenario())  # type: ignore[misc]
    assert (part, whole, length) == (b"/left", b"/read", 5 * 200_000)
    assert connections == 2  # the half-read connection was not handed to the next call


def test_a_cancelled_call_frees_its_place(run: Run) -> None:
    async def scenario() -> tuple[bytes, int, int]:
        server = RawServer(holding(b"/never", asyncio.Event()))
        async with server as url, plain_client(url, limits=limits(max_connections=1)) as http:
            waiting = asyncio.create_task(http.get("/never"))
            await until(lambda: server.connections == 1)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            after = await asyncio.wait_for(http.get("/after"), 3)
            await until(lambda: server.ended == 1)
            return after.content, server.connections, server.ended

    assert run(scenario()) == (b"GET /after HTTP/1.1", 2, 1)


def test_closing_the_client_closes_every_connection(run: Run) -> None:
    async def scenario() -> tuple[int, int]:
        server = RawServer(keep_answering)
        async with server as url:
            async with plain_client(url) as http:
                await asyncio.gather(*(http.get(f"/{n}") for n in range(3)))
                idle_after_the_calls = server.connections - server.ended
            await until(lambda: server.ended == 3)
            return idle_after_the_calls, server.ended

    assert run(scenario()) == (3, 3)
