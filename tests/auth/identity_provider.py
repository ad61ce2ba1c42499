"""A stand-in for the organisation's identity provider: real keys (RSA and EC), its JWKS served
over real HTTP on a loopback port, and tokens minted with them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://login.example.test/tenant-1/v2.0"
AUDIENCE = "api://autopatch-rollouts"


@dataclass
class SigningKey:
    kid: str
    private: Any
    algorithm: str

    def public_jwk(self) -> dict[str, Any]:
        if self.algorithm.startswith("ES"):
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        else:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def rsa_key(kid: str, algorithm: str = "RS256") -> SigningKey:
    return SigningKey(
        kid, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm
    )


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, ec.generate_private_key(ec.SECP256R1()), "ES256")


@dataclass
class IdentityProvider:
    """Keys published in the JWKS, and a count of how often the JWKS was fetched."""

    keys: list[SigningKey] = field(default_factory=list)
    fetches: int = 0
    down: bool = False
    url: str = ""

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.keys]}

    def token(
        self,
        key: SigningKey | None = None,
        *,
        roles: list[str] | str | None = None,
        name: str = "alice@example.test",
        lifetime: int = 600,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed by `key` (default: the first published key)."""
        key = key or self.keys[0]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "sub": "00000000-0000-0000-0000-00000000a11c",
            "preferred_username": name,
        }
        if roles is not None:
            payload["roles"] = roles
        payload.update(claims)
        payload = {claim: value for claim, value in payload.items() if value is not None}
        return jwt.encode(
            payload,
            key.private,
            algorithm=key.algorithm,
            headers={"kid": key.kid, **(headers or {})},
        )


@contextmanager
def serving(provider: IdentityProvider) -> Iterator[IdentityProvider]:
    """Serve the provider's JWKS at http://127.0.0.1:<port>/jwks until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches += 1
            if provider.down or self.path != "/jwks":
                self.send_response(503 if provider.down else 404)
                self.end_headers()
                return
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/jwks"
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
