"""Who is calling. Caller authentication arrives later; until then every caller is anonymous."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends

Role = Literal["reader", "operator", "admin"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its name is the audit log's `actor`."""

    name: str
    role: Role


ANONYMOUS = Principal(name="anonymous", role="admin")


async def get_caller() -> Principal:
    """The caller of this request (open mode: anonymous with role admin)."""
    return ANONYMOUS


CallerDep = Annotated[Principal, Depends(get_caller)]
