"""Resolves a request's credentials to a principal: an API key, a bearer JWT, or open mode."""

from __future__ import annotations

from collections.abc import Mapping

from app.auth.api_keys import ApiKeyVerifier
from app.auth.bearer import BearerValidator, InvalidToken
from app.auth.jwks import KeysUnavailable
from app.auth.problems import IdentityProviderUnavailable, Unauthenticated
from app.auth.roles import ANONYMOUS, Principal

API_KEY_HEADER = "x-api-key"
REALM = "autopatch-rollouts"


class Authenticator:
    """The service's caller authentication; with neither keys nor tokens configured it is open
    (every caller is anonymous admin; allowed only against the simulator)."""

    def __init__(self, *, api_keys: ApiKeyVerifier | None, bearer: BearerValidator | None) -> None:
        self.api_keys = api_keys
        self.bearer = bearer

    @property
    def open(self) -> bool:
        """True when no caller authentication is configured."""
        return self.api_keys is None and self.bearer is None

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller; raises Unauthenticated (401) or IdentityProviderUnavailable (503)."""
        if self.open:
            return ANONYMOUS
        authorization = headers.get("authorization")
        api_key = headers.get(API_KEY_HEADER)
        if authorization is not None and api_key is not None:
            raise self._unauthenticated("Send one credential: a bearer token or an API key.")
        if api_key is not None:
            return self._by_api_key(api_key)
        if authorization is not None:
            return await self._by_bearer(authorization)
        raise self._unauthenticated(
            "This service needs credentials: " + " or ".join(self._accepted()) + "."
        )

    def _by_api_key(self, presented: str) -> Principal:
        if self.api_keys is None:
            raise self._unauthenticated("API keys are not accepted here; send a bearer token.")
        principal = self.api_keys.principal(presented.strip())
        if principal is None:
            raise self._unauthenticated("The API key is not valid.")
        return principal

    async def _by_bearer(self, authorization: str) -> Principal:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._unauthenticated("The Authorization header must be `Bearer <token>`.")
        if self.bearer is None:
            raise self._unauthenticated("Bearer tokens are not accepted here; send X-API-Key.")
        try:
            return await self.bearer.principal(token.strip())
        except InvalidToken as exc:
            raise self._unauthenticated(
                f"The bearer token is not valid: {exc}.", token=exc
            ) from exc
        except KeysUnavailable as exc:
            raise IdentityProviderUnavailable(
                "The token cannot be checked now: the identity provider's keys could not be"
                " fetched. Try again shortly."
            ) from exc

    def _accepted(self) -> list[str]:
        accepted = []
        if self.bearer is not None:
            accepted.append("`Authorization: Bearer <token>`")
        if self.api_keys is not None:
            accepted.append("`X-API-Key: <key>`")
        return accepted

    def _unauthenticated(self, detail: str, token: InvalidToken | None = None) -> Unauthenticated:
        """A 401 with a challenge for every scheme accepted (RFC 9110 §11.6.1)."""
        challenges = []
        if self.bearer is not None:
            bearer = f'Bearer realm="{REALM}"'
            if token is not None:
                description = str(token).replace('"', "'")
                bearer += f', error="invalid_token", error_description="{description}"'
            challenges.append(bearer)
        if self.api_keys is not None:
            challenges.append(f'ApiKey realm="{REALM}", header="X-API-Key"')
        return Unauthenticated(detail, headers={"WWW-Authenticate": ", ".join(challenges)})
