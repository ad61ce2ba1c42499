"""Strict body validation as Graph does it: unknown properties, wrong types and bad values → 400."""

from __future__ import annotations

from typing import Any

from app.simulator.errors import GraphError, bad_request
from app.simulator.shapes import ABSTRACT, DERIVED, INFERABLE, TYPES, Field
from app.simulator.timefmt import format_datetime, parse_datetime, parse_duration

NS = "microsoft.graph.windowsUpdates"


def odata_type(name: str) -> str:
    """The `@odata.type` value for a windowsUpdates type name."""
    return f"#{NS}.{name}"


def unknown_property(key: str, type_name: str, path: str) -> GraphError:
    """Graph's 400 for a property the type does not declare (the message names it)."""
    return GraphError(
        400,
        "BadRequest",
        f"Invalid request body: the property '{key}' does not exist on type "
        f"'{NS}.{type_name}'. Make sure to only use property names that are defined by the type.",
        target=f"{path}.{key}" if path and path != "body" else key,
    )


def _type_from_annotation(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"Invalid @odata.type at '{path}'.", path)
    short = value.lstrip("#")
    if not short.startswith(NS + "."):
        raise bad_request(f"Unknown type '{value}' at '{path}'.", path)
    return short[len(NS) + 1 :]


def _resolve_type(body: dict[str, Any], expected: str, path: str) -> str:
    """The concrete type of an object: its @odata.type, or the expected (or an inferable) one."""
    allowed = (expected, *DERIVED.get(expected, ()))
    if "@odata.type" in body:
        name = _type_from_annotation(body["@odata.type"], path)
        if name not in allowed:
            raise bad_request(
                f"Type '{NS}.{name}' at '{path}' is not compatible with '{NS}.{expected}'.", path
            )
        if name in ABSTRACT:
            raise bad_request(f"Type '{NS}.{name}' at '{path}' is abstract.", path)
        return name
    if expected not in ABSTRACT:
        return expected
    if expected not in INFERABLE:
        raise bad_request(f"The object at '{path}' needs an @odata.type.", path)
    keys = {k for k in body if not k.startswith("@")}
    known = {f for d in DERIVED[expected] for f in TYPES[d]}
    for key in body:
        if key in keys and key not in known:
            raise unknown_property(key, expected, path)
    fits = [d for d in DERIVED[expected] if keys and keys <= set(TYPES[d])]
    if len(fits) == 1:
        return fits[0]
    raise bad_request(
        f"The object at '{path}' needs an @odata.type naming a type derived from "
        f"'{NS}.{expected}'.",
        path,
    )


def validate_object(body: Any, expected: str, path: str = "") -> dict[str, Any]:
    """Check `body` against type `expected` and return it normalized (with @odata.type set)."""
    where = path or "body"
    if not isinstance(body, dict):
        raise bad_request(f"Expected an object for '{where}'.", where)
    name = _resolve_type(body, expected, where)
    fields = TYPES[name]
    out: dict[str, Any] = {"@odata.type": odata_type(name)}
    for key, value in body.items():
        if key.startswith("@"):
            continue
        if key not in fields:
            raise unknown_property(key, name, path)
        out[key] = _validate_value(value, fields[key], f"{path}.{key}" if path else key)
    for key, spec in fields.items():
        if spec.required and key not in body:
            target = f"{path}.{key}" if path else key
            raise bad_request(f"The property '{key}' is required on type '{NS}.{name}'.", target)
    return out


def _validate_value(value: Any, spec: Field, path: str) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise bad_request(f"The property '{path}' cannot be null.", path)
    if spec.kind == "obj":
        assert spec.type is not None
        return validate_object(value, spec.type, path)
    if spec.kind == "list":
        if not isinstance(value, list):
            raise bad_request(f"The property '{path}' must be an array.", path)
        assert spec.item is not None
        return [_validate_value(v, spec.item, f"{path}[{i}]") for i, v in enumerate(value)]
    return _validate_scalar(value, spec, path)


def _validate_scalar(value: Any, spec: Field, path: str) -> Any:
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise bad_request(f"The property '{path}' must be a boolean.", path)
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"The property '{path}' must be an integer.", path)
        low, high = spec.minimum, spec.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise bad_request(f"The property '{path}' must be {bounds}.", path)
        return value
    if not isinstance(value, str):
        raise bad_request(f"The property '{path}' must be a string.", path)
    if spec.kind == "enum" and value not in spec.values:
        raise bad_request(
            f"The value '{value}' is not valid for '{path}'; use one of {', '.join(spec.values)}.",
            path,
        )
    if spec.kind == "datetime":
        parsed = parse_datetime(value)
        if parsed is None:
            raise bad_request(f"The property '{path}' must be an ISO 8601 date-time.", path)
        return format_datetime(parsed)
    if spec.kind == "duration":
        duration = parse_duration(value)
        if duration is None or duration.total_seconds() <= 0:
            raise bad_request(f"The property '{path}' must be a positive ISO 8601 duration.", path)
    return value
