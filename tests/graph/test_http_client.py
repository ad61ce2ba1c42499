"""The Graph http client keeps no cookies: a Set-Cookie in one answer rides on no later call."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from app.graph.factory import build_live
from app.graph.http_client import CookielessClient
from app.settings import Settings
from tests.auth.keys import API_KEYS

PATH = "/admin/windows/updates/deployments"


def cookie_setting_graph(seen: list[str | None]) -> httpx.MockTransport:
    """Answers every call with a Set-Cookie, noting the Cookie header each call carried."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "affinity=abc; Path=/"}, json={})

    return httpx.MockTransport(answer)


async def twice(client: Callable[..., httpx.AsyncClient]) -> tuple[list[str | None], int]:
    """The Cookie headers of two calls in a row through a client built by `client`, and how
    many cookies it kept afterwards."""
    seen: list[str | None] = []
    async with client(transport=cookie_setting_graph(seen), base_url="https://g.example") as http:
        await http.get(PATH)
        await http.get(PATH)
        return seen, len(http.cookies)


async def test_a_cookie_graph_sets_is_neither_kept_nor_sent() -> None:
    assert await twice(CookielessClient) == ([None, None], 0)


async def test_a_plain_httpx_client_would_send_it_back() -> None:
    """The behaviour the Graph client opts out of (so the test above can fail)."""
    assert await twice(httpx.AsyncClient) == ([None, "affinity=abc"], 1)


async def test_cookies_cannot_be_given_to_it() -> None:
    async with CookielessClient() as http:
        with pytest.raises(TypeError, match="no cookies"):
            http.cookies = {"affinity": "abc"}


async def test_the_live_graph_client_is_built_on_it() -> None:
    settings = Settings(
        graph_mode="live",
        graph_tenant_id="t",
        graph_client_id="c",
        graph_client_secret="s",
        api_keys=API_KEYS,
    )
    graph, close = build_live(settings)
    try:
        assert isinstance(graph._http, CookielessClient)
    finally:
        await close()
