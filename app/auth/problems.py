"""The problems of authentication: 401 (who are you?) and 403 (not allowed)."""

from __future__ import annotations

from app.problems import ProblemError


class Unauthenticated(ProblemError):
    type = "urn:problem:unauthenticated"
    title = "Credentials are missing or not valid"
    status = 401


class Forbidden(ProblemError):
    type = "urn:problem:forbidden"
    title = "Your role does not allow this"
    status = 403


class IdentityProviderUnavailable(ProblemError):
    type = "urn:problem:identity-provider-unavailable"
    title = "The identity provider's signing keys could not be fetched"
    status = 503
