"""Who is calling, and what they may do: the role each route requires, declared once per route
as one of the dependencies below (`caller: OperatorDep`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.auth.problems import Forbidden
from app.auth.roles import Principal, Role

# Declared so that the OpenAPI document and Swagger UI's "Authorize" offer both schemes; the
# Authenticator reads the headers itself (one code path for routes and the idempotency layer).
bearer_scheme = HTTPBearer(
    scheme_name="bearerAuth",
    description="A JWT from the organisation's identity provider; roles from its roles claim.",
    auto_error=False,
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    scheme_name="apiKeyAuth",
    description="A key issued to a system that cannot get tokens; each key has a name and a role.",
    auto_error=False,
)


async def authenticated(request: Request) -> Principal:
    """The request's caller, authenticated once per request (401 or 503 if that fails)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal: Principal = await request.app.state.services.auth.authenticate(request.headers)
    request.state.principal = principal
    return principal


class RoleRequirement:
    """A route's dependency: the caller, who must hold at least `role` (else 403)."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(
        self,
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        _api_key: Annotated[str | None, Depends(api_key_scheme)],
    ) -> Principal:
        principal = await authenticated(request)
        limiter = getattr(request.app.state.services, "rate_limiter", None)
        if limiter is not None:
            await limiter.enforce(request, principal.name)
        if principal.role is None or principal.role < self.role:
            held = principal.role.name if principal.role is not None else "none of this service's"
            raise Forbidden(
                f"This needs role {self.role.name} or higher; {principal.name} has {held}.",
                requiredRole=self.role.name,
            )
        return principal


ReaderDep = Annotated[Principal, Depends(RoleRequirement(Role.reader))]
OperatorDep = Annotated[Principal, Depends(RoleRequirement(Role.operator))]
ApproverDep = Annotated[Principal, Depends(RoleRequirement(Role.approver))]
AdminDep = Annotated[Principal, Depends(RoleRequirement(Role.admin))]
READER = Depends(RoleRequirement(Role.reader))
"""For GET routes that do not use the caller: `dependencies=[READER]`."""
