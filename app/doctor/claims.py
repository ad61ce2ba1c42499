"""Read an access token's claims for display: never a security decision, so never verified."""

from __future__ import annotations

from typing import Any

import jwt


def unverified_claims(access_token: str) -> dict[str, Any]:
    """The token's payload (jwt.DecodeError when it is not a JWT)."""
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return claims


def roles_of(claims: dict[str, Any]) -> list[str]:
    """The application permissions in the `roles` claim (none when absent or odd)."""
    roles = claims.get("roles")
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []
