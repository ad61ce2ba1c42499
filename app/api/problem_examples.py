"""One typical problem per status, built from the real problem classes: the examples the
OpenAPI document shows (a route may answer other types of the same status; the API guide lists
them all)."""

from __future__ import annotations

from typing import Any

from app.api.graph_problems import GraphRefused, GraphTimedOut
from app.auth.problems import Forbidden, Unauthenticated
from app.problems import (
    DatabaseUnavailable,
    MalformedRequest,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
)
from app.ratelimit.problems import RateLimited
from app.rollouts.errors import RolloutArchived
from app.rollouts.repository import RolloutNotFound

_INSTANCE = "/v1/rollouts/5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38"
_EXAMPLES: dict[int, tuple[type[ProblemError], str]] = {
    400: (MalformedRequest, "The body is not JSON: line 3, column 14: Expecting ','."),
    401: (Unauthenticated, "The API key is not valid."),
    403: (Forbidden, "This needs role operator or higher; svc-audit has reader."),
    404: (RolloutNotFound, "No rollout has the id '5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38'."),
    409: (RolloutArchived, "Rollout 5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38 was archived."),
    413: (PayloadTooLarge, "The body may be at most 10485760 bytes."),
    415: (UnsupportedMediaType, "The body must be application/json."),
    429: (RateLimited, "More than 600 requests a minute from svc-servicenow; retry in 12 s."),
    502: (GraphRefused, "Graph answered 400 BadRequest: the request is not valid."),
    503: (DatabaseUnavailable, "The database is unreachable."),
    504: (GraphTimedOut, "Graph did not answer within 30 s."),
}


def problem_example(status: int) -> dict[str, Any] | None:
    """A typical problem of this status, or None (422 keeps the validation example)."""
    if status not in _EXAMPLES:
        return None
    kind, detail = _EXAMPLES[status]
    return {
        "type": kind.type,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "instance": _INSTANCE,
        "requestId": "7f9c2b1e4d3a4f6b",
    }
