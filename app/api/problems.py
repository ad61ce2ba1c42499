"""Rendering problems as responses, and documenting them in OpenAPI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from app.problems import FieldError, Problem, ProblemError
from app.request_context import request_id_var

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_body(
    *,
    type_: str,
    title: str,
    status: int,
    detail: str | None,
    instance: str | None,
    errors: Sequence[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of a problem, with the current request id."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    body.update({k: v for k, v in (extra or {}).items() if v is not None})
    body["requestId"] = request_id_var.get()
    return body


def problem_response(
    *,
    type_: str,
    title: str,
    status: int,
    detail: str | None,
    instance: str | None,
    errors: Sequence[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem as a response with the problem media type."""
    return JSONResponse(
        problem_body(
            type_=type_,
            title=title,
            status=status,
            detail=detail,
            instance=instance,
            errors=errors,
            extra=extra,
        ),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def response_for(request: Request, exc: ProblemError) -> JSONResponse:
    """Render a ProblemError raised while serving ``request``."""
    return problem_response(
        type_=exc.type,
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        extra=exc.extra,
        headers=exc.headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the problems a route can return."""
    descriptions = {
        400: "Malformed request (bad JSON, wrong types)",
        401: "No or invalid credentials",
        403: "Role too low",
        404: "Unknown id",
        409: "Conflict with the current state",
        413: "Body too large",
        422: "Well-formed but invalid",
        429: "Caller over its rate",
        502: "Graph answered with an error",
        503: "Graph or the database unreachable",
        504: "Graph timed out",
    }
    return {
        status: {
            "description": descriptions[status],
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
