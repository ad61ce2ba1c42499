"""Bearer JWTs from the organisation's identity provider: signature, issuer, audience, times."""

from __future__ import annotations

from typing import Any

import jwt

from app.auth.jwks import JwksCache
from app.auth.roles import Principal, Role, parse_role

ALLOWED_ALGORITHMS = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}
"""Asymmetric algorithms only, each with the key type it needs: never `none`, never HMAC (a
service that accepted HS256 could be fooled by a token "signed" with the public key)."""
CLOCK_SKEW_SECONDS = 60
NAME_CLAIMS = ("preferred_username", "upn", "email", "azp", "appid", "sub")
"""The first of these a token carries is the caller's name (the audit log's actor)."""


class InvalidToken(Exception):
    """The token is not acceptable; the message says why without quoting it."""


class BearerValidator:
    """Validates tokens against one issuer, audience and key set."""

    def __init__(self, *, issuer: str, audience: str, keys: JwksCache, roles_claim: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.roles_claim = roles_claim

    async def principal(self, token: str) -> Principal:
        """The caller the token names; raises InvalidToken, or KeysUnavailable."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise InvalidToken("the token is not a JWT") from exc
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ALLOWED_ALGORITHMS:
            raise InvalidToken(
                "the token's algorithm is not accepted (accepted: "
                + ", ".join(ALLOWED_ALGORITHMS)
                + ")"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        key = await self.keys.key(kid)
        if key is None:
            raise InvalidToken("the token's signing key is not in the identity provider's JWKS")
        if key.jwk.key_type != ALLOWED_ALGORITHMS[algorithm] or key.algorithm not in (
            None,
            algorithm,
        ):
            raise InvalidToken("the token's algorithm does not match its signing key")
        try:
            claims = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("the token is not valid yet (nbf/iat)") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token is from another issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token has no {exc.claim} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not valid") from exc
        name = _name(claims)
        if name is None:
            raise InvalidToken("the token names no caller (" + ", ".join(NAME_CLAIMS) + ")")
        return Principal(name=name, role=highest_role(claims, self.roles_claim), via="bearer")


def _name(claims: dict[str, Any]) -> str | None:
    for claim in NAME_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:256]
    return None


def highest_role(claims: dict[str, Any], roles_claim: str) -> Role | None:
    """The highest service role the claim names (a dotted path reaches nested claims, such as
    `realm_access.roles`); names that are not roles of this service are ignored."""
    value: Any = claims
    for part in roles_claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    names = value.split() if isinstance(value, str) else value
    if not isinstance(names, list):
        return None
    roles = [role for name in names if isinstance(name, str) and (role := parse_role(name))]
    return max(roles, default=None)
