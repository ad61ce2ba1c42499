"""Caller roles and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """Caller roles, each including the ones below it."""

    reader = 1
    operator = 2
    approver = 3
    admin = 4


def parse_role(value: str) -> Role | None:
    """The role named `value` (exactly, lower-case), else None."""
    return Role.__members__.get(value)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its name is the audit log's `actor`."""

    name: str
    role: Role | None
    # How the caller proved who it is: "apiKey", "bearer" or "open".
    via: str
    # Set only when the service carries out a change its requester proposed and another
    # caller approved (Change review): the request runs as its requester, naming the approver.
    approved_by: str | None = None
    change_id: str | None = None


ANONYMOUS = Principal(name="anonymous", role=Role.admin, via="open")
