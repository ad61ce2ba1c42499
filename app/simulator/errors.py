"""Graph's error envelope and the exception that carries one through the simulator."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class GraphError(Exception):
    """A Graph error response: HTTP status, Graph `code`, message and optional extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}


def bad_request(message: str, target: str | None = None) -> GraphError:
    """A 400 BadRequest, Graph's answer to an invalid body or query."""
    return GraphError(400, "BadRequest", message, target=target)


def not_found(kind: str) -> GraphError:
    """A 404 NotFound worded as Graph words it."""
    return GraphError(404, "NotFound", f"Requested resource '{kind}' not found")


def error_envelope(
    code: str,
    message: str,
    *,
    date: datetime,
    request_id: str,
    client_request_id: str,
    target: str | None = None,
) -> dict[str, Any]:
    """`{"error": {"code", "message", "innerError": {date, request-id, client-request-id}}}`."""
    error: dict[str, Any] = {"code": code, "message": message}
    if target is not None:
        error["target"] = target
    error["innerError"] = {
        "date": date.strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    return {"error": error}
