"""Access tokens the simulator issues (HS256 JWTs) and checks on Graph calls."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
TOKEN_LIFETIME = 3599
READ_WRITE_ROLE = "WindowsUpdates.ReadWrite.All"
READ_ROLE = "WindowsUpdates.Read.All"
ROLES = [READ_WRITE_ROLE]


class TokenInvalid(Exception):
    """The bearer token is missing, malformed, forged or expired (message says which)."""


def issue_access_token(
    key: bytes,
    *,
    client_id: str,
    tenant: str,
    expires_in: int = TOKEN_LIFETIME,
    roles: list[str] | None = None,
) -> str:
    """Sign an app-only Graph token for `client_id` carrying the application permissions
    `roles` (default ROLES); its lifetime runs on wall-clock time."""
    now = int(time.time())
    claims = {
        "aud": GRAPH_AUDIENCE,
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now,
        "exp": now + expires_in,
        "appid": client_id,
        "tid": tenant,
        "roles": list(ROLES if roles is None else roles),
        "sub": client_id,
        "uti": uuid.uuid4().hex,
        "ver": "1.0",
    }
    return jwt.encode(claims, key, algorithm="HS256")


def verify_access_token(key: bytes, authorization: str | None) -> dict[str, Any]:
    """Check an `Authorization: Bearer …` header value and return the token's claims."""
    if not authorization:
        raise TokenInvalid("Access token is empty.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenInvalid("Access token is empty.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token.strip(), key, algorithms=["HS256"], audience=GRAPH_AUDIENCE
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenInvalid("Lifetime validation failed, the token is expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid(f"Access token validation failure. {exc}") from exc
    return claims


def missing_permission(claims: dict[str, Any], method: str) -> str | None:
    """Graph's 403 message when the token's roles do not allow `method`, else None.

    Writes need WindowsUpdates.ReadWrite.All; reads also accept WindowsUpdates.Read.All.
    """
    granted = claims.get("roles")
    roles = [r for r in granted if isinstance(r, str)] if isinstance(granted, list) else []
    allowed = [READ_WRITE_ROLE, READ_ROLE] if method in ("GET", "HEAD") else [READ_WRITE_ROLE]
    if any(role in roles for role in allowed):
        return None
    return (
        "Missing role permissions on the request. API requires one of "
        f"'{', '.join(allowed)}'. Roles on the request '{', '.join(roles)}'."
    )
