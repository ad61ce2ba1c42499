"""RFC 9457 problem details: the error shape of the API and the errors that carry it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    field: str = Field(examples=["schedule.waves.devicesPerWave"])
    message: str = Field(examples=["must be at least 1"])


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is reported."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:problem:validation"])
    title: str = Field(examples=["The request is not valid"])
    status: int = Field(examples=[422])
    detail: str | None = Field(default=None, examples=["1 field is invalid"])
    instance: str | None = Field(default=None, examples=["/v1/rollouts"])
    requestId: str | None = None
    errors: list[FieldError] | None = None
    graphRequestId: str | None = None
    graphError: str | None = None


class ProblemError(Exception):
    """An error the API reports as a problem; subclasses fix the type, title and status."""

    type = "about:blank"
    title = "Error"
    status = 500

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}
        self.extra = extra


class MalformedRequest(ProblemError):
    type = "urn:problem:malformed-request"
    title = "The request could not be read"
    status = 400


class ValidationFailed(ProblemError):
    type = "urn:problem:validation"
    title = "The request is not valid"
    status = 422


class UnsupportedMediaType(ProblemError):
    type = "urn:problem:unsupported-media-type"
    title = "The body's media type is not supported"
    status = 415


class MethodNotAllowed(ProblemError):
    type = "urn:problem:method-not-allowed"
    title = "Method not allowed"
    status = 405


class NotFound(ProblemError):
    type = "urn:problem:not-found"
    title = "No such resource"
    status = 404


class Conflict(ProblemError):
    type = "urn:problem:conflict"
    title = "The request conflicts with the current state"
    status = 409


class PayloadTooLarge(ProblemError):
    type = "urn:problem:payload-too-large"
    title = "The request body is too large"
    status = 413


class DatabaseUnavailable(ProblemError):
    type = "urn:problem:database-unavailable"
    title = "The database is unreachable"
    status = 503


class InternalError(ProblemError):
    type = "urn:problem:internal"
    title = "Internal error"
    status = 500


_LOCATIONS = ("body", "query", "path", "header")


def field_path(loc: Iterable[int | str]) -> str:
    """``("body", "schedule", "waves", "every")`` → ``schedule.waves.every``; indexes as [i]."""
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS and (parts[0] == "body" or len(parts) > 1):
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Pydantic's errors as FieldErrors: the field's path and a plain message."""
    result = []
    for error in errors:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        result.append(FieldError(field=field_path(error.get("loc", ())), message=message))
    return result
