"""Turns every error FastAPI or our code raises into an RFC 9457 problem."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.graph_problems import on_graph_error
from app.api.problems import response_for
from app.graph.errors import GraphError
from app.problems import (
    Conflict,
    DatabaseUnavailable,
    FieldError,
    MalformedRequest,
    NotFound,
    ProblemError,
    ValidationFailed,
)

_HTTP_PROBLEM_TYPES: dict[int, str] = {
    404: NotFound.type,
    405: "urn:problem:method-not-allowed",
    406: "urn:problem:not-acceptable",
    409: Conflict.type,
    413: "urn:problem:payload-too-large",
    415: "urn:problem:unsupported-media-type",
}

_MALFORMED_ERROR_TYPES = {"json_invalid", "json_type"}


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "schedule", "waves", "every")`` → ``schedule.waves.every``; indexes as [i]."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" or len(parts) > 1 else parts
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


def _field_errors(errors: list[dict[str, Any]]) -> list[FieldError]:
    result = []
    for error in errors:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        result.append(FieldError(field=field_path(error.get("loc", ())), message=message))
    return result


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") in _MALFORMED_ERROR_TYPES for e in errors):
        return response_for(
            request,
            MalformedRequest("The body is not valid JSON.", errors=_field_errors(errors)),
        )
    field_errors = _field_errors(errors)
    noun = "field is" if len(field_errors) == 1 else "fields are"
    return response_for(
        request, ValidationFailed(f"{len(field_errors)} {noun} invalid.", errors=field_errors)
    )


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem = ProblemError(str(exc.detail) if exc.detail else None, headers=dict(exc.headers or {}))
    problem.status = exc.status_code
    problem.type = _HTTP_PROBLEM_TYPES.get(exc.status_code, "about:blank")
    problem.title = {404: "No such resource", 405: "Method not allowed"}.get(
        exc.status_code, "HTTP error"
    )
    if exc.status_code == 404 and exc.detail == "Not Found":
        problem.detail = f"Nothing is served at {request.url.path}."
    return response_for(request, problem)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return response_for(request, exc)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return response_for(request, DatabaseUnavailable("The database could not be reached."))
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem renderers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(GraphError, on_graph_error)
