"""A throwaway RSA key and self-signed certificate, as an app registration would hold."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ClientCertificate:
    """PEMs of a private key and its self-signed certificate."""

    key_pem: str
    cert_pem: str

    def assertion(
        self, client_id: str, audience: str, *, alg: str = "PS256", lifetime: int = 600
    ) -> str:
        """A client assertion (RFC 7523) signed with this key."""
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self.key_pem, algorithm=alg)


def make_client_certificate(name: str = "autopatch-rollouts-test") -> ClientCertificate:
    """Generate an RSA-2048 key and a one-day self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ClientCertificate(key_pem, cert.public_bytes(serialization.Encoding.PEM).decode())
