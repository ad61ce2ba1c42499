"""Graph failures as problems: 502 when Graph refused, 503 unreachable, 504 timed out."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from app.api.problems import response_for
from app.graph.errors import (
    GraphAuthError,
    GraphError,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
)
from app.problems import ProblemError


class GraphRefused(ProblemError):
    type = "urn:problem:graph-error"
    title = "Microsoft Graph refused the request"
    status = 502


class GraphUnreachable(ProblemError):
    type = "urn:problem:graph-unavailable"
    title = "Microsoft Graph is unavailable"
    status = 503


class GraphAuthFailed(ProblemError):
    type = "urn:problem:graph-authentication"
    title = "The service could not obtain a token for Microsoft Graph"
    status = 503


class GraphTimedOut(ProblemError):
    type = "urn:problem:graph-timeout"
    title = "Microsoft Graph did not answer in time"
    status = 504


def problem_for_graph_error(error: GraphError) -> ProblemError:
    """The problem a Graph failure is reported as, naming Graph's code and request id."""
    cls: type[ProblemError]
    if isinstance(error, GraphAuthError):
        cls = GraphAuthFailed
    elif isinstance(error, GraphTimeout):
        cls = GraphTimedOut
    elif isinstance(error, GraphUnavailable | GraphThrottled):
        cls = GraphUnreachable
    else:
        cls = GraphRefused
    detail = f"Graph answered {error.code}: {error.message}"
    if error.status is not None:
        detail = f"Graph answered HTTP {error.status} {error.code}: {error.message}"
    if error.outcome_unknown:
        detail += " Graph may have applied the change; the service will reconcile it."
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    problem = cls(
        detail,
        headers=headers,
        graphError=error.code,
        graphRequestId=error.request_ids[-1] if error.request_ids else error.request_id,
    )
    problem.extra.update(error.context)
    return problem


async def on_graph_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: render a GraphError that reached the API as its problem."""
    assert isinstance(exc, GraphError)
    return response_for(request, problem_for_graph_error(exc))
