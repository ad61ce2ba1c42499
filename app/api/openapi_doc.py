"""The OpenAPI document: FastAPI's, with every error documented as an RFC 9457 problem."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.problems import PROBLEM_MEDIA_TYPE

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


def _problem_only(status: str, response: dict[str, Any]) -> None:
    """Error responses carry application/problem+json only (FastAPI's own 422 included)."""
    content = response.get("content", {})
    json_schema = content.get("application/json", {}).get("schema", {})
    if json_schema.get("$ref") == _FASTAPI_VALIDATION:
        response["description"] = "Well-formed but invalid (each bad field is named)"
    if status.startswith(("4", "5")):
        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """Generate (once) and return the service's OpenAPI document."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                _problem_only(status, response)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = document
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve `build_openapi` at /openapi.json."""
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
