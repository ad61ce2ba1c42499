"""API keys: configured as `name:role:sha256-hex` entries, never as the keys themselves."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from app.auth.roles import Principal, Role, parse_role

_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9._@\-]{1,128}$")


class ApiKeyConfigError(ValueError):
    """API_KEYS is malformed; the message names the entry, never a hash."""


@dataclass(frozen=True)
class ApiKey:
    """One configured key: who it authenticates, with which role, and the key's SHA-256."""

    name: str
    role: Role
    digest: bytes


def key_digest(key: str) -> str:
    """The SHA-256 hex of a key, as API_KEYS holds it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key(name: str, role: str) -> tuple[str, str]:
    """A random key (256 bits) and its API_KEYS entry `name:role:sha256-hex`."""
    entry_name = name.strip()
    if not _NAME.fullmatch(entry_name):
        raise ApiKeyConfigError("the name must be 1-128 letters, digits or . _ @ -")
    if parse_role(role) is None:
        raise ApiKeyConfigError("role must be one of " + ", ".join(Role.__members__))
    key = secrets.token_urlsafe(32)
    return key, f"{entry_name}:{role}:{key_digest(key)}"


def parse_api_keys(value: str) -> tuple[ApiKey, ...]:
    """Parse API_KEYS (`name:role:sha256-hex`, comma-separated)."""
    keys: list[ApiKey] = []
    for number, raw in enumerate(value.split(","), start=1):
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3:
            raise ApiKeyConfigError(
                f"entry {number} is not name:role:sha256-hex (it has {len(parts)} part(s))"
            )
        name, role_name, digest = (part.strip() for part in parts)
        if not _NAME.fullmatch(name):
            raise ApiKeyConfigError(
                f"entry {number}: the name must be 1-128 letters, digits or . _ @ -"
            )
        role = parse_role(role_name)
        if role is None:
            raise ApiKeyConfigError(
                f"entry {number} ({name}): role must be one of " + ", ".join(Role.__members__)
            )
        if not _HEX_SHA256.fullmatch(digest.lower()):
            raise ApiKeyConfigError(
                f"entry {number} ({name}): the third part must be the key's SHA-256 as 64 hex"
                " digits (python -m app new-api-key prints it), not the key itself"
            )
        if any(key.name == name for key in keys):
            raise ApiKeyConfigError(f"entry {number}: the name {name} is used twice")
        keys.append(ApiKey(name=name, role=role, digest=bytes.fromhex(digest.lower())))
    if not keys:
        raise ApiKeyConfigError("it names no key")
    digests = [key.digest for key in keys]
    if len(set(digests)) != len(digests):
        raise ApiKeyConfigError("two entries have the same key hash")
    return tuple(keys)


class ApiKeyVerifier:
    """Finds the key a caller presented, comparing digests in constant time."""

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self.keys = keys

    def principal(self, presented: str) -> Principal | None:
        """The principal of the presented key, or None when it matches no configured key."""
        digest = hashlib.sha256(presented.encode("utf-8")).digest()
        found: ApiKey | None = None
        # Every configured digest is compared, so timing does not tell which one matched.
        for key in self.keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        if found is None:
            return None
        return Principal(name=found.name, role=found.role, via="apiKey")
