"""The identity provider's signing keys: fetched from AUTH_JWKS_URL, cached, refreshed when a
token names a key not seen yet (at most once per REFRESH_FLOOR_SECONDS)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

REFRESH_FLOOR_SECONDS = 30.0
"""An unknown `kid` refetches the key set at most this often: a stream of forged kids costs
the identity provider one request per interval, not one per token."""
MAX_AGE_SECONDS = 3600.0
"""Keys are refetched this long after the last fetch even if every kid is known (rotation)."""


@dataclass(frozen=True)
class SigningKey:
    """One key of the set, and the algorithm it is declared for (`alg`), if any."""

    jwk: jwt.PyJWK
    algorithm: str | None


class KeysUnavailable(Exception):
    """The key set could not be fetched and none is cached."""


class JwksCache:
    """Signing keys by `kid`, from one JWKS URL."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.client = client
        self.clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self._failed = False

    async def key(self, kid: str) -> SigningKey | None:
        """The key named `kid`, fetching the set when it is stale or the kid is new."""
        if self._stale() or (kid not in self._keys and self._may_refresh()):
            async with self._lock:
                # Another task may have refreshed while this one waited for the lock.
                if self._stale() or (kid not in self._keys and self._may_refresh()):
                    await self._refresh()
        if not self._keys and self._failed:
            raise KeysUnavailable("no signing keys: the JWKS could not be fetched")
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at >= MAX_AGE_SECONDS

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or (
            self.clock() - self._fetched_at >= REFRESH_FLOOR_SECONDS
        )

    async def _refresh(self) -> None:
        try:
            response = await self.client.get(self.url)
            response.raise_for_status()
            keys = parse_key_set(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            # Keep the keys we had, and try again after the floor (failures are paced too).
            self._fetched_at = self.clock() - MAX_AGE_SECONDS + REFRESH_FLOOR_SECONDS
            self._failed = True
            log.warning("could not fetch the JWKS from %s: %s", self.url, type(exc).__name__)
            return
        self._keys = keys
        self._fetched_at = self.clock()
        self._failed = False


def parse_key_set(document: Any) -> dict[str, SigningKey]:
    """The signing keys of a JWKS document that have a `kid` and a usable type."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, SigningKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use") not in (None, "sig"):
            continue
        try:
            declared = entry.get("alg")
            keys[entry["kid"]] = SigningKey(
                jwk=jwt.PyJWK(entry), algorithm=declared if isinstance(declared, str) else None
            )
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("JWKS key %s skipped: unsupported", entry["kid"][:64])
    return keys
