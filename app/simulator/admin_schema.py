"""Checking admin API bodies field by field, so every bad one is a 400 naming its field."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.simulator.timefmt import parse_datetime

HTTP_METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
KIND_WORDS = {
    "bool": "true or false",
    "int": "an integer",
    "number": "a number",
    "str": "a string",
    "datetime": "an ISO 8601 date-time with an offset, e.g. 2026-11-28T12:00:00Z",
    "method": f"an HTTP method ({', '.join(sorted(HTTP_METHODS))})",
    "methods": "a list of HTTP methods",
    "ids": "a list of strings",
}


class AdminError(Exception):
    """A refused admin request: HTTP status, the offending field (None: the whole body), text."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status

    def to_json(self) -> dict[str, Any]:
        """`{"error": {"code", "message", "field"}}`."""
        code = "invalidRequest" if self.status == 400 else "notFound"
        return {"error": {"code": code, "message": self.message, "field": self.field}}


@dataclass(frozen=True)
class Spec:
    """One body field: its kind, bounds, whether it is required or may be null, and the state
    attribute it sets (for config-like endpoints)."""

    kind: str
    required: bool = False
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    attr: str = ""


def _bounded(name: str, value: float, spec: Spec) -> None:
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            bounds = f"at least {low:g}"
        elif low is None:
            bounds = f"at most {high:g}"
        else:
            bounds = f"between {low:g} and {high:g}"
        raise AdminError(f"'{name}' must be {bounds}; got {value!r}.", name)


def _check(name: str, value: Any, spec: Spec) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise AdminError(f"'{name}' must be {KIND_WORDS[spec.kind]}, not null.", name)
    wrong = AdminError(f"'{name}' must be {KIND_WORDS[spec.kind]}; got {value!r}.", name)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise wrong
        return value
    if spec.kind in ("int", "number"):
        integral = isinstance(value, int) or (spec.kind == "number" and isinstance(value, float))
        if isinstance(value, bool) or not integral or not math.isfinite(value):
            raise wrong
        _bounded(name, value, spec)
        return value
    if spec.kind == "datetime":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise wrong
        return parsed
    if spec.kind == "method":
        if not isinstance(value, str) or value.upper() not in HTTP_METHODS:
            raise wrong
        return value.upper()
    if spec.kind in ("methods", "ids"):
        return _list(name, value, spec, wrong)
    if not isinstance(value, str):
        raise wrong
    return value


def _list(name: str, value: Any, spec: Spec, wrong: AdminError) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise wrong
    if spec.kind == "ids":
        return list(value)
    unknown = [v for v in value if v.upper() not in HTTP_METHODS]
    if unknown:
        raise AdminError(f"'{name}' names an unknown HTTP method {unknown[0]!r}.", name)
    return [v.upper() for v in value]


def parse_body(body: Any, fields: dict[str, Spec]) -> dict[str, Any]:
    """The checked fields of a JSON object body (only those present); AdminError on the first
    unknown key, missing required field or bad value."""
    if not isinstance(body, dict):
        raise AdminError("The body must be a JSON object.")
    for key in body:
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise AdminError(f"Unknown field '{key}' (this endpoint takes: {known}).", key)
    for key, spec in fields.items():
        if spec.required and key not in body:
            raise AdminError(f"'{key}' is required.", key)
    return {key: _check(key, value, fields[key]) for key, value in body.items()}
