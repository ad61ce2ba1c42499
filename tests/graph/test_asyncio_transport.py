"""AsyncioTransport: the live Graph client's HTTP/1.1 over asyncio's own transports answers as
httpx's own transport does, reuses connections only while the server keeps them, and turns
network failures into the httpx errors the Graph client handles. Each test runs on asyncio's
default event loop and on uvloop (the loop `serve` and `worker` run on)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from app.graph.factory import build_live, connection_options, ssl_context
from app.graph.http11 import WRITE_CHUNK, Http11Connection
from app.graph.http_client import AsyncioTransport, CookielessClient
from app.settings import Settings
from app.simulator import SimulatorState
from tests.auth.keys import API_KEYS
from tests.graph.raw_http import RawServer, answer, plain_client, read_request
from tests.graph.tls_server import RunningSimulator, serve_tls

ROOT = "/beta/admin/windows/updates"
ACTION = "microsoft.graph.windowsUpdates."


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    state = SimulatorState(client_id="transport-client", client_secret="s3cret", synchronous=True)
    with serve_tls(state, tmp_path_factory.mktemp("tls")) as running:
        yield running


def client(sim: RunningSimulator, *, ours: bool) -> httpx.AsyncClient:
    context = ssl_context(sim.tls.ca_pem)
    options = {"transport": AsyncioTransport(context)} if ours else {"verify": context}
    return CookielessClient(base_url=sim.url, timeout=30, **options)  # type: ignore[arg-type]


async def graph_session(http: httpx.AsyncClient) -> list[tuple[int, bytes]]:
    """A token, then a rollout's Graph calls: a deployment, 150 devices enrolled and added, the
    members read back page by page, an unknown deployment (404). Status and body of each."""
    answers: list[httpx.Response] = []
    token = await http.post(
        "/contoso/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "transport-client",
            "client_secret": "s3cret",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert token.status_code == 200, token.text
    http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    audience = await http.post(f"{ROOT}/deploymentAudiences", json={})
    entries = await http.get(f"{ROOT}/catalog/entries")
    entry = next(e for e in entries.json()["value"] if "featureUpdate" in e["@odata.type"])
    deployment = await http.post(
        f"{ROOT}/deployments",
        json={
            "@odata.type": f"#{ACTION}deployment",
            "content": {
                "@odata.type": f"#{ACTION}catalogContent",
                "catalogEntry": {"@odata.type": entry["@odata.type"], "id": entry["id"]},
            },
            "audience": {"id": audience.json()["id"]},
        },
    )
    deployment_id = deployment.json()["id"]
    assets = [
        {"@odata.type": f"#{ACTION}azureADDevice", "id": f"0000{n:04d}-0000-4000-8000-000000000000"}
        for n in range(150)
    ]
    answers.append(
        await http.post(
            f"{ROOT}/updatableAssets/{ACTION}enrollAssets",
            json={"updateCategory": "feature", "assets": assets},
        )
    )
    answers.append(
        await http.post(
            f"{ROOT}/deployments/{deployment_id}/audience/{ACTION}updateAudience",
            json={"addMembers": assets},
        )
    )
    url: str | None = f"{ROOT}/deployments/{deployment_id}/audience/members"
    members: list[str] = []
    while url:
        page = await http.get(url)
        answers.append(page)
        members += [m["id"] for m in page.json()["value"]]
        url = page.json().get("@odata.nextLink")
    answers.append(await http.get(f"{ROOT}/deployments/not-a-deployment"))
    assert sorted(members) == sorted(a["id"] for a in assets)
    await http.aclose()
    return [(a.status_code, a.content if a.status_code >= 400 else b"") for a in answers] + [
        (len(members), b"")
    ]


def test_a_rollouts_calls_over_tls_answer_as_through_httpx_own_transport(
    tls_sim: RunningSimulator, run: Callable[[Awaitable[object]], object]
) -> None:
    ours = run(graph_session(client(tls_sim, ours=True)))
    theirs = run(graph_session(client(tls_sim, ours=False)))
    statuses = [status for status, _ in ours]  # type: ignore[attr-defined]
    assert statuses[:2] == [202, 202] and statuses[-2:] == [404, 150]
    assert len(statuses) >= 5  # the 150 members came back over more than one page
    # The 404's body carries a request id of its own, so only its error code is compared.
    assert [s for s, _ in ours] == [s for s, _ in theirs]  # type: ignore[attr-defined]
    assert b'"code":"NotFound"' in ours[-2][1]  # type: ignore[index]


def test_calls_in_sequence_share_one_connection(
    run: Callable[[Awaitable[object]], object],
) -> None:
    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            _, body = await read_request(reader)
            writer.write(answer(b"echo:" + body))

    async def scenario() -> tuple[list[bytes], int]:
        server = RawServer(keep_alive)
        async with server as url, plain_client(url) as http:
            bodies = [
                (await http.post("/x", content=f"call {n}".encode())).content for n in range(5)
            ]
        return bodies, server.connections

    bodies, connections = run(scenario())  # type: ignore[misc]
    assert bodies == [f"echo:call {n}".encode() for n in range(5)]
    assert connections == 1


PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
)


@pytest.mark.parametrize("proxied", [False, True], ids=["over asyncio", "through a proxy"])
def test_more_calls_in_flight_than_httpx_keeps_idle_by_default_reuse_their_connections(
    run: Callable[[Awaitable[object]], object], monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    """Two waves of 30 calls at once, each call answered only once all 30 are in flight: the
    second wave goes over the first wave's connections. (httpcore closes idle connections while
    the pool holds more than max_keepalive_connections in all; with httpx's default of 20, every
    call of the second wave connected anew.) Both ways the live client connects: its own
    transport, and httpx's when the environment names a proxy."""
    calls = 30
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    async def scenario() -> tuple[list[bytes], int]:
        all_in_flight = asyncio.Barrier(calls)

        async def together(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head, _ = await read_request(reader)
                await all_in_flight.wait()
                writer.write(answer(head.split(b" ")[1]))

        server = RawServer(together)
        async with server as url:
            if proxied:
                monkeypatch.setenv("HTTP_PROXY", url)
            options = connection_options(ssl.create_default_context())
            assert ("transport" in options) is not proxied
            base = "http://graph.invalid" if proxied else url
            async with CookielessClient(base_url=base, timeout=10, **options) as http:
                answers = []
                for wave in range(2):
                    sent = [http.get(f"/{wave}/{n}") for n in range(calls)]
                    answers += await asyncio.wait_for(asyncio.gather(*sent), 10)
        return [a.content for a in answers], server.connections

    bodies, connections = run(scenario())  # type: ignore[misc]
    assert [body.rsplit(b"/", 2)[-2:] for body in bodies] == [
        [str(wave).encode(), str(n).encode()] for wave in range(2) for n in range(calls)
    ]
    assert connections == calls


def test_a_connection_the_server_closed_while_idle_is_not_reused(
    run: Callable[[Awaitable[object]], object],
) -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"first"))  # says keep-alive, then closes once it is idle
        await writer.drain()
        await asyncio.sleep(0.05)

    async def scenario() -> tuple[bytes, bytes, int]:
        server = RawServer(one_then_close)
        async with server as url, plain_client(url) as http:
            first = (await http.get("/a")).content
            await asyncio.sleep(0.3)  # the server has closed the pooled connection meanwhile
            second = (await http.get("/b")).content
        return first, second, server.connections

    first, second, connections = run(scenario())  # type: ignore[misc]
    assert (first, second) == (b"first", b"first")
    assert connections == 2


def test_large_bodies_cross_in_pieces_both_ways(run: Callable[[Awaitable[object]], object]) -> None:
    """A 4 MB request to a server that reads slowly (the client waits for the transport to take
    more) and a 4 MB answer sent in slow pieces (many reads) arrive whole."""
    sent = bytes(range(256)) * (4 * 4096)

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        received = bytearray()
        while len(received) < length:
            received += await reader.read(65536)
            await asyncio.sleep(0.001)
        writer.write(answer(bytes(received))[: -len(received)])  # the head alone
        for start in range(0, len(received), 256 * 1024):
            writer.write(bytes(received[start : start + 256 * 1024]))
            await writer.drain()
            await asyncio.sleep(0.005)

    async def scenario() -> bytes:
        async with RawServer(slow) as url, plain_client(url) as http:
            return (await http.post("/upload", content=sent)).content

    assert run(scenario()) == sent


def test_a_silent_server_is_a_read_timeout(run: Callable[[Awaitable[object]], object]) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def scenario() -> float:
        async with RawServer(silent) as url, plain_client(url, timeout=0.3) as http:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/slow")
            return time.monotonic() - started

    assert 0.25 < run(scenario()) < 3  # type: ignore[operator]


def test_a_server_that_drops_the_connection_mid_answer_is_a_transport_error(
    run: Callable[[Awaitable[object]], object],
) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"x" * 1000)[:-500])  # half the body, then the connection ends

    async def scenario() -> None:
        async with RawServer(drop) as url, plain_client(url) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/half")

    run(scenario())


def test_a_refused_connection_is_a_connect_error(
    run: Callable[[Awaitable[object]], object],
) -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with plain_client(f"http://127.0.0.1:{port}") as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("/")

    run(scenario())


def test_an_untrusted_certificate_is_a_connect_error(
    tls_sim: RunningSimulator, run: Callable[[Awaitable[object]], object]
) -> None:
    async def scenario() -> None:
        http = CookielessClient(
            base_url=tls_sim.url, transport=AsyncioTransport(ssl.create_default_context())
        )
        async with http:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await http.get(f"{ROOT}/catalog/entries")

    run(scenario())


def live_settings() -> Settings:
    return Settings(
        graph_mode="live",
        graph_tenant_id="t",
        graph_client_id="c",
        graph_client_secret="s",
        api_keys=API_KEYS,
    )


def test_without_a_proxy_in_the_environment_the_live_client_connects_over_asyncio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert isinstance(
        connection_options(ssl.create_default_context())["transport"], AsyncioTransport
    )


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
async def test_a_proxy_the_environment_names_carries_the_live_clients_calls(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """As before this transport existed: httpx's own transport, which honours the variable."""
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n"))
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with RawServer(proxy) as url:
        monkeypatch.setenv(variable, url)
        assert "transport" not in connection_options(ssl.create_default_context())
        graph, close = build_live(live_settings())
        try:
            with pytest.raises(httpx.ProxyError):
                await graph._http.get("https://graph.microsoft.com/beta/admin/windows/updates")
        finally:
            await close()
    assert seen == [b"CONNECT graph.microsoft.com:443 HTTP/1.1\r\n"]


class RecordingTransport(asyncio.Transport):
    """asyncio's transport interface, keeping what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def connection_over(transport: RecordingTransport) -> Http11Connection:
    """A connection that has been opened onto `transport`."""
    connection = Http11Connection(("http", "graph.invalid", 80), ssl.create_default_context(), 5)
    connection.connection_made(transport)
    return connection


def post(body: bytes | list[bytes], *, length: bool = True) -> httpx.Request:
    """A POST of `body`, given whole or in parts (with a Content-Length unless `length` is
    False: then chunked)."""
    if isinstance(body, bytes):
        return httpx.Request("POST", "http://graph.invalid/x", content=body)
    headers = {"Content-Length": str(sum(map(len, body)))} if length else {}
    return httpx.Request("POST", "http://graph.invalid/x", content=_parts(body), headers=headers)


async def _parts(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def answered(connection: Http11Connection, request: httpx.Request, answer: bytes) -> int:
    """Send the request over the connection, the server answering `answer` once it was written."""
    sending = asyncio.ensure_future(connection.send(request))
    await asyncio.sleep(0)
    connection.data_received(answer)
    status, _, _ = await sending
    return status


async def test_a_requests_head_and_body_go_out_in_one_write() -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)

    status = await answered(connection, post(b"hello"), b"HTTP/1.1 204 No Content\r\n\r\n")

    assert status == 204
    assert len(transport.writes) == 1
    head, body = transport.writes[0].split(b"\r\n\r\n")
    assert head.startswith(b"POST /x HTTP/1.1\r\n") and b"\r\ncontent-length: 5" in head.lower()
    assert body == b"hello"


async def test_a_large_body_is_written_as_it_comes_past_64_kb() -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)
    large = b"x" * (WRITE_CHUNK + 1)

    await answered(connection, post([large, b"tail"]), b"HTTP/1.1 204 No Content\r\n\r\n")

    assert len(transport.writes) == 2
    assert transport.writes[0].endswith(b"\r\n\r\n" + large)
    assert transport.writes[1] == b"tail"


async def test_a_body_of_unknown_length_goes_out_chunked() -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)

    chunked = post([b"ab", b"", b"cde"], length=False)
    await answered(connection, chunked, b"HTTP/1.1 204 No Content\r\n\r\n")

    head, body = transport.writes[0].split(b"\r\n\r\n", 1)
    assert b"\r\ntransfer-encoding: chunked" in head.lower()
    assert body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"


async def test_a_request_on_a_connection_closed_meanwhile_fails_as_a_write() -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)
    transport.closing = True

    with pytest.raises(httpx.WriteError):
        await connection.send(post(b"hello"))
    assert transport.writes == []
    assert not connection.is_available()


async def test_a_request_given_up_before_its_body_was_whole_is_never_sent() -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        yield b"first part"
        started.set()
        await asyncio.Event().wait()
        yield b"never"

    sending = asyncio.ensure_future(
        connection.send(httpx.Request("POST", "http://graph.invalid/x", content=endless()))
    )
    await started.wait()
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending

    assert (transport.writes, transport.closing) == ([], True)


async def test_informational_answers_are_skipped_and_the_reason_kept() -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)
    sending = asyncio.ensure_future(connection.send(post(b"hello")))
    await asyncio.sleep(0)
    for piece in (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Cre", b"ated\r\nA: 1\r\n"):
        connection.data_received(piece)
    connection.data_received(b"Content-Length: 2\r\n\r\nok")

    assert await sending == (201, b"Created", [(b"A", b"1"), (b"Content-Length", b"2")])
    assert [part async for part in connection.body(1)] == [b"ok"]
    connection.finish()
    assert connection.is_available()


@pytest.mark.parametrize(
    ("answer", "reusable"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", False),
    ],
    ids=["keep-alive", "connection close", "HTTP/1.0", "a second answer"],
)
async def test_a_connection_is_kept_only_after_a_whole_keep_alive_answer(
    answer: bytes, reusable: bool
) -> None:
    connection = connection_over(RecordingTransport())

    await answered(connection, post(b"hello"), answer)
    assert [part async for part in connection.body(1)] == [b"ok"]
    connection.finish()

    assert connection.is_available() is reusable


async def test_a_body_without_a_length_ends_with_the_connection() -> None:
    connection = connection_over(RecordingTransport())
    await answered(connection, post(b"hello"), b"HTTP/1.1 200 OK\r\n\r\nall of")
    connection.data_received(b" it")
    connection.eof_received()

    assert [part async for part in connection.body(1)] == [b"all of it"]
    connection.finish()
    assert not connection.is_available()


async def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)

    with pytest.raises(httpx.RemoteProtocolError, match=r"not valid HTTP/1\.1"):
        await answered(connection, post(b"hello"), b"SSH-2.0-OpenSSH_9.2\r\n")
    assert transport.closing


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Id", "a\r\nInjected: yes"), ("X-Id", "a\nb"), ("X Id", "a"), ("X-Id:", "a")],
    ids=["CRLF in a value", "LF in a value", "space in a name", "colon in a name"],
)
async def test_a_header_that_would_break_the_request_is_refused_before_anything_is_sent(
    name: str, value: str
) -> None:
    transport = RecordingTransport()
    connection = connection_over(transport)
    request = httpx.Request("GET", "http://graph.invalid/x", headers={name: value})

    with pytest.raises(httpx.LocalProtocolError):
        await connection.send(request)
    assert transport.writes == []
