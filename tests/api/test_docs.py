"""Swagger UI and ReDoc work with no internet: every asset they load is served by us."""

from __future__ import annotations

import re

import httpx
import pytest

_ASSET_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']|url:\s*'([^']+)'""")


def _referenced_urls(html: str) -> list[str]:
    return [a or b for a, b in _ASSET_URL.findall(html)]


@pytest.mark.parametrize(
    ("page", "expected_assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css"}),
        ("/redoc", {"redoc.standalone.js"}),
    ],
)
async def test_docs_pages_load_only_the_services_own_assets(
    client: httpx.AsyncClient, page: str, expected_assets: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    urls = _referenced_urls(response.text)
    assert urls, "the page references no assets at all"
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "fonts.googleapis" not in response.text and "cdn.jsdelivr" not in response.text
    assert {url.rsplit("/", 1)[-1] for url in urls} >= expected_assets
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


async def test_swagger_bundle_is_version_5_which_renders_openapi_3_1(
    client: httpx.AsyncClient,
) -> None:
    bundle = await client.get("/static/docs/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith(("application/javascript", "text/javascript"))
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert re.search(r'version:"5\.\d+\.\d+"|"5\.\d+\.\d+"', bundle.text[:2_000_000])
