"""Builds the Authenticator the settings describe, with the HTTP client its JWKS cache uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from app.auth.api_keys import ApiKeyVerifier, parse_api_keys
from app.auth.authenticator import Authenticator
from app.auth.bearer import BearerValidator
from app.auth.jwks import JwksCache
from app.settings import Settings

JWKS_TIMEOUT_SECONDS = 10.0


def build_authenticator(settings: Settings) -> tuple[Authenticator, Callable[[], Awaitable[None]]]:
    """The authenticator, and what closes its HTTP client (settings were validated already)."""
    api_keys = ApiKeyVerifier(parse_api_keys(settings.api_keys)) if settings.api_keys else None
    bearer = None
    client: httpx.AsyncClient | None = None
    if settings.auth_jwks_url and settings.auth_jwt_issuer and settings.auth_jwt_audience:
        client = httpx.AsyncClient(
            timeout=JWKS_TIMEOUT_SECONDS,
            verify=str(settings.auth_ca_bundle) if settings.auth_ca_bundle else True,
            headers={"Accept": "application/json"},
        )
        bearer = BearerValidator(
            issuer=settings.auth_jwt_issuer,
            audience=settings.auth_jwt_audience,
            keys=JwksCache(settings.auth_jwks_url, client),
            roles_claim=settings.auth_roles_claim,
        )

    async def close() -> None:
        if client is not None:
            await client.aclose()

    return Authenticator(api_keys=api_keys, bearer=bearer), close
