"""Build the GraphClient the lifespan keeps: live Graph with MSAL, or the in-process simulator."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import certifi
import httpx

from app.graph.auth import ClientCredentialsTokenProvider, MsalTokenProvider, scope_for
from app.graph.client import GraphClient, GraphClientConfig
from app.graph.http_client import DEFAULT_LIMITS, AsyncioTransport, CookielessClient
from app.settings import Settings

SIMULATOR_BASE_URL = "http://graph-simulator.local/beta"
SIMULATOR_ORIGIN = "http://graph-simulator.local"
SIMULATOR_TENANT_ID = "simulator-tenant"
SIMULATOR_CLIENT_ID = "simulator-client"
SIMULATOR_CLIENT_SECRET = "simulator-secret"  # public: only the local simulator accepts it

Close = Callable[[], Awaitable[None]]


# Graph calls in flight at once for the requests an API process serves (reads of many callers
# at once); GRAPH_CONCURRENCY bounds the calls of the work a worker runs.
API_CONCURRENCY = 64


def client_config(settings: Settings, concurrency: int | None = None) -> GraphClientConfig:
    """The client's tunables from settings (`concurrency` overrides GRAPH_CONCURRENCY)."""
    return GraphClientConfig(
        max_ids_per_call=settings.graph_max_ids_per_call,
        max_attempts=settings.graph_max_attempts,
        max_retry_wait_seconds=settings.graph_max_retry_wait_seconds,
        concurrency=concurrency or settings.graph_concurrency,
    )


def ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Public roots (certifi), extended with GRAPH_CA_BUNDLE (e.g. a TLS-inspecting proxy's CA)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def connection_options(context: ssl.SSLContext) -> dict[str, Any]:
    """How the live client connects: over asyncio's own transports (AsyncioTransport), or, when
    the environment names a proxy (HTTPS_PROXY, ALL_PROXY, HTTP_PROXY, in any case), through
    httpx's own transport, which honours those variables and NO_PROXY exactly as before."""
    if any(scheme in urllib.request.getproxies() for scheme in ("https", "all", "http")):
        return {"verify": context, "limits": DEFAULT_LIMITS}
    return {"transport": AsyncioTransport(context)}


def _timeout(settings: Settings) -> httpx.Timeout:
    """One overall per-request timeout, with a shorter connect phase."""
    seconds = settings.graph_timeout_seconds
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def build_live(settings: Settings, concurrency: int | None = None) -> tuple[GraphClient, Close]:
    """Real Graph at GRAPH_BASE_URL with MSAL tokens from GRAPH_AUTHORITY_HOST."""
    if not settings.graph_tenant_id or not settings.graph_client_id:
        raise ValueError("GRAPH_MODE=live needs GRAPH_TENANT_ID and GRAPH_CLIENT_ID")
    http = CookielessClient(
        base_url=settings.graph_base_url,
        timeout=_timeout(settings),
        headers={"User-Agent": "autopatch-rollouts"},
        **connection_options(ssl_context(settings.graph_ca_bundle)),
    )
    tokens = MsalTokenProvider(
        authority=f"{settings.graph_authority_host.rstrip('/')}/{settings.graph_tenant_id}",
        client_id=settings.graph_client_id,
        client_secret=settings.graph_client_secret,
        certificate_path=settings.graph_client_certificate_path,
        scope=scope_for(settings.graph_base_url),
        ca_bundle=settings.graph_ca_bundle,
        timeout=settings.graph_timeout_seconds,
    )
    return GraphClient(http, tokens, client_config(settings, concurrency)), http.aclose


def build_simulator(
    settings: Settings, simulator_app: Any, concurrency: int | None = None
) -> tuple[GraphClient, Close]:
    """The in-process simulator through an ASGI transport (no network, no TLS)."""
    http = CookielessClient(
        transport=httpx.ASGITransport(app=simulator_app),
        base_url=SIMULATOR_BASE_URL,
        timeout=_timeout(settings),
    )
    tenant = settings.graph_tenant_id or SIMULATOR_TENANT_ID
    tokens = ClientCredentialsTokenProvider(
        http,
        token_url=f"{SIMULATOR_ORIGIN}/{tenant}/oauth2/v2.0/token",
        client_id=settings.graph_client_id or SIMULATOR_CLIENT_ID,
        client_secret=settings.graph_client_secret or SIMULATOR_CLIENT_SECRET,
    )
    return GraphClient(http, tokens, client_config(settings, concurrency)), http.aclose


def build_graph_client(
    settings: Settings, *, simulator_app: Any = None, concurrency: int | None = None
) -> tuple[GraphClient, Close]:
    """The client and its async close, for GRAPH_MODE (simulator mode needs `simulator_app`);
    `concurrency` overrides GRAPH_CONCURRENCY (API processes use API_CONCURRENCY)."""
    if settings.graph_mode == "live":
        return build_live(settings, concurrency)
    if simulator_app is None:
        from app.simulator.app import create_simulator_app

        simulator_app = create_simulator_app()
    return build_simulator(settings, simulator_app, concurrency)
