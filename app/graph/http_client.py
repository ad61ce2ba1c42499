"""The httpx client the Graph calls go through: httpx's AsyncClient without a cookie jar."""

from __future__ import annotations

from typing import Any

import httpx


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
