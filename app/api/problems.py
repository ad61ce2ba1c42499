"""Rendering problems as responses, and documenting them in OpenAPI."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import Scope, Send

from app.problems import Problem, ProblemError
from app.request_context import request_id_var

PROBLEM_MEDIA_TYPE = "application/problem+json"

PROBLEM_DESCRIPTIONS = {
    400: "Malformed request (not JSON: the detail names line and column; a foreign cursor)",
    401: "No or invalid credentials",
    403: "Role too low",
    404: "Unknown id",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Body not application/json (for PATCH: or application/merge-patch+json)",
    422: "Well-formed but invalid (each bad field is named)",
    429: "Caller over its rate",
    502: "Graph answered with an error",
    503: "Graph or the database unreachable",
    504: "Graph timed out",
}


def problem_body(exc: ProblemError, instance: str | None) -> dict[str, Any]:
    """The JSON body of a problem about `instance`, with the current request id."""
    body: dict[str, Any] = {"type": exc.type, "title": exc.title, "status": exc.status}
    if exc.detail is not None:
        body["detail"] = exc.detail
    if instance is not None:
        body["instance"] = instance
    if exc.errors is not None:
        body["errors"] = [e.model_dump() for e in exc.errors]
    body.update({k: v for k, v in exc.extra.items() if v is not None})
    body["requestId"] = request_id_var.get()
    return body


async def send_problem(scope: Scope, send: Send, exc: ProblemError) -> None:
    """Answer with a problem straight from ASGI middleware (no route has run)."""
    payload = json.dumps(problem_body(exc, scope.get("path"))).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def response_for(request: Request, exc: ProblemError) -> JSONResponse:
    """Render a ProblemError raised while serving ``request``."""
    return JSONResponse(
        problem_body(exc, request.url.path),
        status_code=exc.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=exc.headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the problems a route can return."""
    return {
        status: {
            "description": PROBLEM_DESCRIPTIONS[status],
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
