"""Client assertions (RFC 7523 JWT bearer) as the identity platform checks them."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "PS256")
CLOCK_SKEW = 300


class AssertionInvalid(Exception):
    """The assertion is malformed, wrongly signed, expired or for another client/audience."""


def public_key(pem: str) -> PublicKeyTypes:
    """The public key of a PEM certificate or PEM public key."""
    data = pem.encode()
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


def verify_assertion(
    assertion: str, *, client_id: str, token_endpoint: str, certificates: list[str]
) -> dict[str, Any]:
    """Check an assertion; its signature too when certificates are registered."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError as exc:
        raise AssertionInvalid("AADSTS50027: JWT token is invalid or malformed.") from exc
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AssertionInvalid(f"AADSTS5002738: Invalid JWT token. '{alg}' is not supported.")
    claims = _verified_claims(assertion, str(alg), certificates)
    _check_claims(claims, client_id, token_endpoint)
    return claims


def _verified_claims(assertion: str, alg: str, certificates: list[str]) -> dict[str, Any]:
    if not certificates:
        try:
            return dict(jwt.decode(assertion, options={"verify_signature": False}))
        except jwt.InvalidTokenError as exc:
            raise AssertionInvalid("AADSTS50027: JWT token is invalid or malformed.") from exc
    for pem in certificates:
        try:
            return dict(
                jwt.decode(
                    assertion,
                    public_key(pem),  # type: ignore[arg-type]
                    algorithms=[alg],
                    options={"verify_aud": False, "verify_exp": False},
                )
            )
        except (jwt.InvalidTokenError, TypeError, ValueError):
            continue  # wrong key, or a key of another kind (e.g. EC: Entra takes RSA only)
    raise AssertionInvalid(
        "AADSTS700027: Client assertion failed signature validation: no registered certificate "
        "matches the signing key."
    )


def _check_claims(claims: dict[str, Any], client_id: str, token_endpoint: str) -> None:
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionInvalid(
            "AADSTS700021: Client assertion application identifier doesn't match 'client_id' "
            "parameter (iss and sub must both be the client id)."
        )
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if token_endpoint.rstrip("/").lower() not in {str(a).rstrip("/").lower() for a in audiences}:
        raise AssertionInvalid(
            f"AADSTS700016: Client assertion audience must be the token endpoint {token_endpoint}."
        )
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp < now - CLOCK_SKEW:
        raise AssertionInvalid("AADSTS700024: Client assertion is not within its valid time range.")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > now + CLOCK_SKEW:
        raise AssertionInvalid("AADSTS700024: Client assertion is not within its valid time range.")
