"""Access tokens the simulator issues (HS256 JWTs) and checks on Graph calls."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
TOKEN_LIFETIME = 3599
ROLES = ["WindowsUpdates.ReadWrite.All"]


class TokenInvalid(Exception):
    """The bearer token is missing, malformed, forged or expired (message says which)."""


def issue_access_token(
    key: bytes, *, client_id: str, tenant: str, expires_in: int = TOKEN_LIFETIME
) -> str:
    """Sign an app-only Graph token for `client_id`; its lifetime runs on wall-clock time."""
    now = int(time.time())
    claims = {
        "aud": GRAPH_AUDIENCE,
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now,
        "exp": now + expires_in,
        "appid": client_id,
        "tid": tenant,
        "roles": ROLES,
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
