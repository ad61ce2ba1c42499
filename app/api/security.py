"""Who is calling, and what they may do: the role each route requires, declared once per route
as one of the dependencies below (`caller: OperatorDep`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.auth.problems import Forbidden
from app.auth.roles import Principal, Role
from app.ratelimit.limiter import enforce_rate_limit

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


def role_requirement(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A route's dependency: the caller, who must hold at least `role` (else 403).

    The role is also written into the route's OpenAPI security requirements (OpenAPI 3.1 lets a
    non-OAuth scheme list the roles it needs), so the document says what each route requires.
    """

    async def require(
        request: Request,
        # Defaults, not Annotated: with postponed annotations `role` would not resolve.
        _bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme, scopes=[role.name]),
        _api_key: str | None = Security(api_key_scheme, scopes=[role.name]),
    ) -> Principal:
        principal = await authenticated(request)
        await enforce_rate_limit(request, principal.name)
        if principal.role is None or principal.role < role:
            held = principal.role.name if principal.role is not None else "none of this service's"
            raise Forbidden(
                f"This needs role {role.name} or higher; {principal.name} has {held}.",
                requiredRole=role.name,
            )
        return principal

    require.__name__ = f"require_{role.name}"
    return require


ReaderDep = Annotated[Principal, Depends(role_requirement(Role.reader))]
OperatorDep = Annotated[Principal, Depends(role_requirement(Role.operator))]
ApproverDep = Annotated[Principal, Depends(role_requirement(Role.approver))]
AdminDep = Annotated[Principal, Depends(role_requirement(Role.admin))]
READER = Depends(role_requirement(Role.reader))
"""For GET routes that do not use the caller: `dependencies=[READER]`."""
