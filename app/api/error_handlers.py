"""Turns every error FastAPI or our code raises into an RFC 9457 problem."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Scope

from app.api.graph_problems import on_graph_error
from app.api.problems import response_for
from app.api.review import ReviewAnswer
from app.graph.errors import GraphError
from app.problems import (
    Conflict,
    DatabaseUnavailable,
    FieldError,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    ProblemError,
    UnsupportedMediaType,
    ValidationFailed,
    field_errors,
)
from app.unit_of_work import is_connection_failure

JSON_MEDIA_TYPE = "application/json"
MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"

_HTTP_PROBLEMS: dict[int, type[ProblemError]] = {
    400: MalformedRequest,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    415: UnsupportedMediaType,
}
_HTTP_PROBLEM_TYPES: dict[int, str] = {
    406: "urn:problem:not-acceptable",
    413: "urn:problem:payload-too-large",
}


def accepted_media_types(method: str) -> list[str]:
    """The body media types a request of `method` may use."""
    if method == "PATCH":
        return [MERGE_PATCH_MEDIA_TYPE, JSON_MEDIA_TYPE]
    return [JSON_MEDIA_TYPE]


def _unsupported_media_type(request: Request) -> UnsupportedMediaType:
    accepted = accepted_media_types(request.method)
    sent = request.headers.get("content-type")
    got = f"got {sent[:100]!r}" if sent else "no Content-Type was sent"
    headers = {"Accept-Patch": ", ".join(accepted)} if request.method == "PATCH" else None
    return UnsupportedMediaType(
        f"Send the body as {' or '.join(accepted)} ({got}).",
        errors=[FieldError(field="Content-Type", message=f"must be {' or '.join(accepted)}")],
        headers=headers,
    )


def _line_and_column(document: str, position: int) -> tuple[int, int]:
    line = document.count("\n", 0, position) + 1
    return line, position - (document.rfind("\n", 0, position) + 1) + 1


def _malformed_json(error: dict[str, Any], document: Any) -> MalformedRequest:
    position = error["loc"][-1] if isinstance(error["loc"][-1], int) else 0
    reason = str(error.get("ctx", {}).get("error", "invalid JSON"))
    where = ""
    if isinstance(document, str):
        line, column = _line_and_column(document, position)
        where = f" at line {line}, column {column}"
    message = f"{reason}{where}"
    return MalformedRequest(
        f"The body is not valid JSON: {message}.",
        errors=[FieldError(field="body", message=message)],
    )


def _is_missing_body(error: dict[str, Any]) -> bool:
    return error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if isinstance(exc.body, bytes | bytearray) and exc.body:
        # FastAPI leaves a body it did not read as JSON (any other media type) as bytes.
        return response_for(request, _unsupported_media_type(request))
    errors = list(exc.errors())
    malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if malformed is not None:
        return response_for(request, _malformed_json(malformed, exc.body))
    problems = field_errors(errors)
    for problem, error in zip(problems, errors, strict=True):
        if _is_missing_body(error):
            accepted = " or ".join(accepted_media_types(request.method))
            problem.message = f"a JSON body is required (Content-Type: {accepted})"
    noun = "field is" if len(problems) == 1 else "fields are"
    return response_for(
        request, ValidationFailed(f"{len(problems)} {noun} invalid.", errors=problems)
    )


def _served(scope: Scope) -> list[tuple[re.Match[str], set[str]]]:
    """The routes serving the request's path, with their methods: of the path templates that
    match it, the most specific (fewest parameters), as OpenAPI matches concrete paths first."""
    path = str(scope["path"])
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    served = []
    for route in iter_route_contexts(scope["app"].routes):
        if route.path and route.methods:
            match = compile_path(route.path)[0].match(path)
            if match is not None:
                served.append((match, set(route.methods)))
    fewest = min((len(match.groupdict()) for match, _ in served), default=0)
    return [(match, methods) for match, methods in served if len(match.groupdict()) == fewest]


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route serves at the request's path (for a 405's `Allow`)."""
    methods: set[str] = set()
    for _, served in _served(scope):
        methods |= served
    return sorted(methods)


def path_parameter(scope: Scope, holds: str) -> str | None:
    """The name the serving route gives the path parameter whose value contains `holds`."""
    for match, _ in _served(scope):
        for name, value in match.groupdict().items():
            if holds in value:
                return name
    return None


def _http_problem(request: Request, exc: StarletteHTTPException) -> ProblemError:
    detail = str(exc.detail) if exc.detail else None
    headers = dict(exc.headers or {})
    kind = _HTTP_PROBLEMS.get(exc.status_code)
    if exc.status_code == 404 and exc.detail == "Not Found":
        detail = f"Nothing is served at {request.url.path}."
    elif exc.status_code == 405:
        allowed = allowed_methods(request.scope) or headers.get("Allow", "").split(", ")
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not served here; use {headers['Allow']}."
    elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        detail = "The body could not be read as UTF-8 JSON."
    if kind is not None:
        return kind(detail, headers=headers)
    problem = ProblemError(detail, headers=headers)
    problem.status = exc.status_code
    problem.type = _HTTP_PROBLEM_TYPES.get(exc.status_code, "about:blank")
    problem.title = "HTTP error"
    return problem


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return response_for(request, _http_problem(request, exc))


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return response_for(request, exc)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if is_connection_failure(exc):
        return response_for(request, DatabaseUnavailable("The database could not be reached."))
    raise exc


async def _on_review_answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReviewAnswer)
    return exc.response


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem renderers on ``app`` (and change review's own answers)."""
    app.add_exception_handler(ReviewAnswer, _on_review_answer)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(GraphError, on_graph_error)
