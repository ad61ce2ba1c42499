"""App-only tokens for Graph: MSAL in production, a small client-credentials client otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.graph.errors import GraphAuthError

DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
# Graph hosts of the national clouds: the token's scope must name the Graph the calls go to.
NATIONAL_GRAPH_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
)
EXPIRY_MARGIN_SECONDS = 300.0


class TokenProvider(Protocol):
    """Something that hands out a bearer token for Graph."""

    async def token(self) -> str:
        """A valid access token (cached until near expiry)."""
        ...

    async def invalidate(self) -> None:
        """Forget the cached token (Graph answered 401 to it)."""
        ...


def scope_for(graph_base_url: str) -> str:
    """`https://<graph host>/.default` for a national-cloud Graph URL, else the global scope."""
    host = (urlsplit(graph_base_url).hostname or "").lower()
    return f"https://{host}/.default" if host in NATIONAL_GRAPH_HOSTS else DEFAULT_SCOPE


def load_certificate_credential(path: Path) -> dict[str, str]:
    """MSAL's certificate credential from one PEM holding the private key and the certificate."""
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise GraphAuthError(
            None,
            "invalidCertificate",
            f"GRAPH_CLIENT_CERTIFICATE_PATH {path} must be an unencrypted PEM holding the "
            "private key and the certificate",
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise GraphAuthError(
            None,
            "invalidCertificate",
            f"GRAPH_CLIENT_CERTIFICATE_PATH {path} holds a {type(key).__name__}; Microsoft Entra "
            "client certificates must use an RSA key",
        )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    # With public_certificate and no thumbprint MSAL signs with PS256 and a SHA-256 thumbprint.
    return {"private_key": key_pem, "public_certificate": cert_pem}


def requests_session(ca_bundle: Path | None) -> requests.Session | None:
    """A session trusting `ca_bundle`; None (MSAL's default) when no bundle is configured."""
    if ca_bundle is None:
        return None
    return PinnedCaSession(ca_bundle)


class PinnedCaSession(requests.Session):
    """Verifies TLS with one CA bundle whatever REQUESTS_CA_BUNDLE says, and otherwise reads the
    environment as requests does: HTTPS_PROXY and NO_PROXY still apply (a TLS-inspecting proxy is
    the usual reason for GRAPH_CA_BUNDLE)."""

    def __init__(self, ca_bundle: Path) -> None:
        super().__init__()
        self.verify = str(ca_bundle)

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings


class MsalTokenProvider:
    """Tokens from MSAL's ConfidentialClientApplication, built once and kept (it holds the cache).

    `instance_discovery=False` always: for Microsoft's own authority hosts (public cloud,
    login.microsoftonline.us for US Government, China, ...) MSAL skips discovery anyway, so
    this changes nothing there; for any other host (the standalone simulator, a private IdP) it
    stops MSAL from asking login.microsoftonline.com — unreachable from air-gapped and sovereign
    networks — to vouch for an authority that is our own configuration. The app is built
    lazily on the first call (its constructor fetches the OpenID configuration), so start-up
    never blocks on the IdP.
    """

    def __init__(
        self,
        *,
        authority: str,
        client_id: str,
        client_secret: str | None = None,
        certificate_path: Path | None = None,
        scope: str = DEFAULT_SCOPE,
        ca_bundle: Path | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (client_secret or certificate_path):
            raise ValueError("a client secret or a certificate path is needed")
        self._authority = authority.rstrip("/")
        self._client_id = client_id
        self._secret = client_secret
        self._certificate_path = certificate_path
        self._scopes = [scope]
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = asyncio.Lock()
        self._clock = clock
        # MSAL's last answer, kept until MSAL itself would ask the IdP again: until then every
        # call would hand back this same token, at the cost of a worker thread per Graph call.
        self._token: str | None = None
        self._reuse_until = 0.0

    def _credential(self) -> str | dict[str, str]:
        """The client secret, or the certificate credential read from the PEM."""
        if self._certificate_path is not None:
            return load_certificate_credential(self._certificate_path)
        assert self._secret is not None
        return self._secret

    def _build(self) -> msal.ConfidentialClientApplication:
        """Construct the MSAL app (blocking: fetches the authority's OpenID configuration)."""
        kwargs: dict[str, Any] = {
            "client_credential": self._credential(),
            "authority": self._authority,
            "instance_discovery": False,
            "timeout": self._timeout,
        }
        session = requests_session(self._ca_bundle)
        if session is not None:
            kwargs["http_client"] = session
        return msal.ConfidentialClientApplication(self._client_id, **kwargs)

    def _acquire(self) -> dict[str, Any]:
        """Blocking: build the app once, then ask it (its cache answers until near expiry)."""
        if self._app is None:
            self._app = self._build()
        result: dict[str, Any] = self._app.acquire_token_for_client(scopes=self._scopes)
        return result

    async def token(self) -> str:
        """A token from MSAL's cache or the IdP; GraphAuthError with MSAL's reason if none."""
        if self._token is not None and self._clock() < self._reuse_until:
            return self._token  # what MSAL's cache would answer now
        async with self._lock:
            started = self._clock()
            try:
                result = await asyncio.to_thread(self._acquire)
            except GraphAuthError:
                raise
            except requests.RequestException as exc:  # DNS, refused, TLS trust, timeout
                raise GraphAuthError(
                    None,
                    "tokenEndpointUnreachable",
                    f"could not reach the token endpoint of {self._authority}: "
                    f"{type(exc).__name__}: {exc}",
                ) from exc
            except Exception as exc:  # bad authority, odd discovery document, bad key ...
                raise GraphAuthError(
                    None,
                    "tokenRequestFailed",
                    f"could not obtain a Graph token from {self._authority}: "
                    f"{type(exc).__name__}: {exc}",
                ) from exc
            token = result.get("access_token")
            if isinstance(token, str) and token:
                self._keep(token, result, started)
                return token
        raise GraphAuthError(
            None,
            str(result.get("error") or "tokenRequestFailed"),
            "could not obtain a Graph token: "
            f"{result.get('error_description') or result.get('error') or 'no access_token'}",
            client_request_id=result.get("correlation_id"),
        )

    def _keep(self, token: str, result: dict[str, Any], asked_at: float) -> None:
        """Reuse `token` while MSAL would answer it from its cache: until EXPIRY_MARGIN_SECONDS
        before it expires (MSAL asks the IdP for a new one from then on), and not past the
        `refresh_in` MSAL gives for long-lived tokens. Counted from when MSAL was asked."""
        try:
            expires_in = float(result.get("expires_in") or 0)
            refresh_in = result.get("refresh_in")
            reuse_for = expires_in - EXPIRY_MARGIN_SECONDS
            if refresh_in is not None:
                reuse_for = min(reuse_for, float(refresh_in))
        except (TypeError, ValueError):
            reuse_for = 0.0
        self._token = token if reuse_for > 0 else None
        self._reuse_until = asked_at + max(reuse_for, 0.0)

    async def invalidate(self) -> None:
        """Drop the cached access tokens so the next call asks the IdP again."""
        async with self._lock:
            self._token, self._reuse_until = None, 0.0
            if self._app is None:
                return
            cache = self._app.token_cache
            for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(item)


class ClientCredentialsTokenProvider:
    """Client-credentials POST over an httpx client (simulator via ASGI, where MSAL cannot go)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str = DEFAULT_SCOPE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._clock = clock
        self._token: str | None = None
        self._valid_until = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        """The cached token, or a new one when fewer than 5 minutes are left."""
        async with self._lock:
            if self._token is not None and self._clock() < self._valid_until:
                return self._token
            token, expires_in = await self._fetch()
            self._token = token
            self._valid_until = self._clock() + max(expires_in - EXPIRY_MARGIN_SECONDS, 0.0)
            return token

    async def _fetch(self) -> tuple[str, float]:
        """POST the form; the token and its lifetime, or GraphAuthError."""
        try:
            response = await self._http.post(self._token_url, data=self._form)
        except httpx.HTTPError as exc:
            raise GraphAuthError(
                None, "tokenEndpointUnreachable", f"token endpoint unreachable: {exc!r}"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        token = body.get("access_token")
        if response.status_code == 200 and isinstance(token, str) and token:
            return token, float(body.get("expires_in") or 3600)
        raise GraphAuthError(
            response.status_code,
            str(body.get("error") or "tokenRequestFailed"),
            "could not obtain a Graph token: "
            f"{body.get('error_description') or body.get('error') or response.reason_phrase}",
            client_request_id=body.get("correlation_id"),
        )

    async def invalidate(self) -> None:
        """Forget the cached token."""
        async with self._lock:
            self._token = None
            self._valid_until = 0.0
