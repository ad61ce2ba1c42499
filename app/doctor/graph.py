"""Doctor's Graph checks: a token from the identity platform, the application permission it
carries, and one catalog read through the service's own GraphClient."""

from __future__ import annotations

from jwt import DecodeError

from app.doctor.claims import roles_of, unverified_claims
from app.doctor.report import Check
from app.graph.client import GraphClient
from app.graph.errors import GraphAuthError, GraphError, GraphForbidden
from app.graph.factory import build_graph_client
from app.settings import Settings
from app.simulator.app import create_simulator_app
from app.simulator.state import SimulatorState

REQUIRED_ROLE = "WindowsUpdates.ReadWrite.All"
TOKEN_FIX = (
    "check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the credential (GRAPH_CLIENT_SECRET, or"
    " GRAPH_CLIENT_CERTIFICATE_PATH whose certificate is uploaded to the app registration),"
    " that an administrator granted consent to the app in this tenant, and that"
    " GRAPH_AUTHORITY_HOST is reachable from here"
)
PERMISSION_FIX = (
    f"in Microsoft Entra ID, App registrations, the app, API permissions: add Microsoft Graph,"
    f" Application permissions, {REQUIRED_ROLE}, then 'Grant admin consent' (a delegated"
    " permission of that name does not count)"
)
FORBIDDEN_FIX = (
    f"grant the application permission {REQUIRED_ROLE} with admin consent, and make sure the"
    " tenant has a licence that includes Windows Autopatch (Windows Update for Business"
    " deployment service)"
)
REACH_FIX = (
    "check GRAPH_BASE_URL and the network path to Microsoft Graph (proxy, firewall,"
    " GRAPH_CA_BUNDLE for a TLS-inspecting proxy)"
)


def _token_checks(access_token: str) -> list[Check]:
    """`token` (who it was issued to) and `permission` (its roles hold REQUIRED_ROLE)."""
    try:
        claims = unverified_claims(access_token)
    except DecodeError:
        return [
            Check.ok("token", "issued (not a JWT, so its claims cannot be shown)"),
            Check.failed(
                "permission",
                "the token's roles cannot be read",
                "make sure GRAPH_AUTHORITY_HOST is the Microsoft identity platform of your cloud",
            ),
        ]
    issued = f"issued to app {claims.get('appid') or claims.get('azp') or '?'}"
    token = Check.ok("token", f"{issued} in tenant {claims.get('tid') or '?'}")
    roles = roles_of(claims)
    shown = ", ".join(roles) or "none"
    if REQUIRED_ROLE in roles:
        return [token, Check.ok("permission", f"the token carries {REQUIRED_ROLE}")]
    detail = f"the token lacks the application permission {REQUIRED_ROLE} (roles: {shown})"
    return [token, Check.failed("permission", detail, PERMISSION_FIX)]


async def _catalog_check(graph: GraphClient) -> Check:
    """`catalog`: one read of the feature update catalog, as the service makes it."""
    try:
        result = await graph.list_catalog_entries("feature")
    except GraphForbidden as exc:
        detail = f"Graph refused the read: HTTP 403 {exc.code} (request-id {exc.request_id})"
        return Check.failed("catalog", detail, FORBIDDEN_FIX)
    except GraphAuthError as exc:
        return Check.failed("catalog", f"Graph refused the token: {exc}", TOKEN_FIX)
    except GraphError as exc:
        return Check.failed("catalog", str(exc), REACH_FIX)
    return Check.ok("catalog", f"{len(result.value)} feature update entries read")


async def check_graph(graph: GraphClient) -> list[Check]:
    """`token`, `permission` and `catalog`, in that order."""
    try:
        access_token = await graph.access_token()
    except GraphError as exc:
        return [
            Check.failed("token", f"none issued: {exc.message}", TOKEN_FIX),
            Check.skipped("permission", "needs a token"),
            Check.skipped("catalog", "needs a token"),
        ]
    return [*_token_checks(access_token), await _catalog_check(graph)]


async def check_configured_graph(
    settings: Settings, simulator_state: SimulatorState | None = None
) -> list[Check]:
    """check_graph against the Graph the settings name (the in-process simulator included)."""
    simulator_app = None
    if settings.graph_mode == "simulator":
        simulator_app = create_simulator_app(simulator_state or SimulatorState())
    graph, close = build_graph_client(settings, simulator_app=simulator_app)
    try:
        return await check_graph(graph)
    finally:
        await close()
