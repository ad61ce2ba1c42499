"""Doctor's `callers` check: how callers authenticate, and that the identity provider's signing
keys can be fetched from here."""

from __future__ import annotations

import httpx

from app.auth.api_keys import parse_api_keys
from app.auth.factory import JWKS_TIMEOUT_SECONDS
from app.auth.jwks import parse_key_set
from app.doctor.report import Check
from app.settings import Settings

JWKS_FIX = (
    "check AUTH_JWKS_URL (your identity provider's keys endpoint, e.g."
    " https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys), the network path to it,"
    " and AUTH_CA_BUNDLE if it is served with an internal CA"
)


async def check_callers(settings: Settings) -> Check:
    """`callers`: API keys by role, and the JWKS read once, as the service will read it."""
    parts = []
    if settings.api_keys:
        keys = parse_api_keys(settings.api_keys)
        parts.append(
            f"{len(keys)} API key(s) (" + ", ".join(f"{k.name}: {k.role.name}" for k in keys) + ")"
        )
    if settings.auth_jwks_url:
        verify: str | bool = str(settings.auth_ca_bundle) if settings.auth_ca_bundle else True
        try:
            async with httpx.AsyncClient(timeout=JWKS_TIMEOUT_SECONDS, verify=verify) as http:
                response = await http.get(settings.auth_jwks_url)
                response.raise_for_status()
                signing = parse_key_set(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            detail = f"the signing keys could not be read from {settings.auth_jwks_url}: {exc}"
            return Check.failed("callers", detail, JWKS_FIX)
        if not signing:
            return Check.failed(
                "callers", f"{settings.auth_jwks_url} lists no signing key", JWKS_FIX
            )
        parts.append(
            f"bearer tokens from {settings.auth_jwt_issuer} for {settings.auth_jwt_audience}"
            f" ({len(signing)} signing key(s), roles in '{settings.auth_roles_claim}')"
        )
    if not parts:
        return Check.ok(
            "callers", "OPEN: every caller is anonymous with role admin (simulator only)"
        )
    return Check.ok("callers", "; ".join(parts))
