"""The simulator's own admin API under /_simulator (no token): clock, config, faults, calls."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.simulator.state import SimulatorState
from app.simulator.timefmt import format_datetime, parse_datetime

CONFIG_FIELDS = {
    "synchronous": ("synchronous", bool),
    "asyncDelaySeconds": ("async_delay_seconds", (int, float)),
    "pageSize": ("page_size", int),
    "maxIdsPerCall": ("max_ids_per_call", int),
    "emptyAudience404": ("empty_audience_404", bool),
    "requireAuth": ("require_auth", bool),
    "clientId": ("client_id", (str, type(None))),
    "clientSecret": ("client_secret", (str, type(None))),
    "grantedRoles": ("granted_roles", list),
}
FAULT_FIELDS = {
    "latencySeconds": ("latency_seconds", (int, float)),
    "throttleRate": ("throttle_rate", (int, float)),
    "unavailableRate": ("unavailable_rate", (int, float)),
    "retryAfterSeconds": ("retry_after_seconds", int),
}


class AdminError(Exception):
    """A 400 from the admin API."""


AdminHandler = Callable[[Request, SimulatorState, dict[str, Any]], Any]


def _endpoint(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: SimulatorState = request.app.state.simulator
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise AdminError("expected a JSON object")
            with state.lock:
                result = handler(request, state, body)
        except (AdminError, ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result)

    return endpoint


def _assign(target: object, fields: dict[str, tuple[str, Any]], body: dict[str, Any]) -> None:
    for key, value in body.items():
        if key not in fields:
            raise AdminError(f"unknown setting '{key}'")
        kinds = fields[key][1]
        numeric = kinds in (int, (int, float))
        if not isinstance(value, kinds) or (isinstance(value, bool) and numeric):
            raise AdminError(f"bad value for '{key}'")
    for key, value in body.items():
        setattr(target, fields[key][0], value)


def _read(target: object, fields: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    return {key: getattr(target, attr) for key, (attr, _) in fields.items()}


def reset(request: Request, state: SimulatorState, body: dict[str, Any]) -> None:
    """POST /_simulator/reset {seed?}: drop data, faults and calls; keep configuration."""
    state.reset(seed=body.get("seed"))


def clock(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """GET / POST /_simulator/clock {now: ISO} | {advanceSeconds: n} | {real: true}."""
    if body.get("real"):
        state.clock.real()
    if "now" in body:
        when = parse_datetime(str(body["now"]))
        if when is None:
            raise AdminError("'now' must be an ISO 8601 date-time with offset")
        state.clock.set(when)
    if "advanceSeconds" in body:
        state.clock.advance(float(body["advanceSeconds"]))
    state.apply_due()
    return {"now": format_datetime(state.now()), "frozen": state.clock.frozen}


def config(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """GET / PATCH /_simulator/config: synchronous, asyncDelaySeconds, pageSize, … (camelCase)."""
    roles = body.get("grantedRoles", [])
    if not (isinstance(roles, list) and all(isinstance(role, str) for role in roles)):
        raise AdminError("'grantedRoles' must be a list of strings")
    _assign(state, CONFIG_FIELDS, body)
    return _read(state, CONFIG_FIELDS)


def synchronous(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/synchronous {synchronous: bool}."""
    _assign(state, {"synchronous": CONFIG_FIELDS["synchronous"]}, body)
    return {"synchronous": state.synchronous}


def known_devices(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """PUT /_simulator/known-devices {ids: [...] | null}: the tenant's device ids."""
    ids = body.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise AdminError("'ids' must be a list of strings or null")
    state.known_devices = set(ids) if ids is not None else None
    return {"ids": sorted(state.known_devices) if state.known_devices is not None else None}


def monitoring(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/deployments/{id}/monitoring {rollbackPercent: n}."""
    deployment_id = request.path_params["id"]
    state.set_monitoring_signal(deployment_id, float(body["rollbackPercent"]))
    return {"pausedByMonitoring": state.deployments[deployment_id].paused_by_monitoring}


def apply(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/apply: apply all pending 202 changes now."""
    return {"applied": state.flush()}


def calls(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any] | None:
    """GET /_simulator/calls?method=&pathContains=&status= ; DELETE clears the log."""
    if request.method == "DELETE":
        state.clear_calls()
        return None
    q = request.query_params
    status = q.get("status")
    found = state.find(q.get("method"), q.get("pathContains"), int(status) if status else None)
    return {"value": [c.to_json() for c in found]}


def counters(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """GET /_simulator/counters: totals by status, and Graph writes."""
    by_status: dict[str, int] = {}
    for call in list(state.calls):
        by_status[str(call.status)] = by_status.get(str(call.status), 0) + 1
    return {"calls": len(state.calls), "writes": len(state.writes()), "byStatus": by_status}


def faults(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any] | None:
    """GET / PATCH /_simulator/faults (latency, rates, Retry-After, rateMethods, maxIdsPerCall)."""
    if request.method == "DELETE":
        state.faults.clear()
        return None
    body = dict(body)
    if "maxIdsPerCall" in body:
        cap = {"maxIdsPerCall": body.pop("maxIdsPerCall")}
        _assign(state, {"maxIdsPerCall": CONFIG_FIELDS["maxIdsPerCall"]}, cap)
    if "rateMethods" in body:
        methods = body.pop("rateMethods")
        state.faults.rate_methods = frozenset(m.upper() for m in methods) if methods else None
    for key in ("throttleRate", "unavailableRate"):
        if key in body and not 0 <= body[key] <= 1:
            raise AdminError(f"'{key}' must be between 0 and 1")
    _assign(state.faults, FAULT_FIELDS, body)
    rate_methods = state.faults.rate_methods
    return {
        **_read(state.faults, FAULT_FIELDS),
        "rateMethods": sorted(rate_methods) if rate_methods is not None else None,
        "maxIdsPerCall": state.max_ids_per_call,
        "scripted": len(state.faults.scripted),
        "drops": len(state.faults.drops),
    }


def inject(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/faults/inject {status, count?, retryAfter?, method?, pathContains?}."""
    state.faults.inject(
        int(body["status"]),
        count=int(body.get("count", 1)),
        retry_after=body.get("retryAfter"),
        method=body.get("method"),
        path_contains=body.get("pathContains"),
        code=body.get("code"),
        message=body.get("message"),
    )
    return {"scripted": len(state.faults.scripted)}


def drop(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/faults/drop {status?, count?, method?, pathContains?, hangSeconds?}."""
    state.faults.drop_after_processing(
        int(body.get("status", 504)),
        count=int(body.get("count", 1)),
        method=body.get("method"),
        path_contains=body.get("pathContains"),
        hang_seconds=body.get("hangSeconds"),
    )
    return {"drops": len(state.faults.drops)}


def token(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/token {clientId?, expiresIn?}: a Graph token without the OAuth dance."""
    client_id = str(body.get("clientId", "simulator-client"))
    expires_in = int(body.get("expiresIn", 3599))
    return {"access_token": state.issue_token(client_id, expires_in=expires_in)}


ROUTES = [
    Route("/reset", _endpoint(reset), methods=["POST"]),
    Route("/clock", _endpoint(clock), methods=["GET", "POST"]),
    Route("/config", _endpoint(config), methods=["GET", "PATCH"]),
    Route("/synchronous", _endpoint(synchronous), methods=["POST"]),
    Route("/known-devices", _endpoint(known_devices), methods=["PUT"]),
    Route("/deployments/{id}/monitoring", _endpoint(monitoring), methods=["POST"]),
    Route("/apply", _endpoint(apply), methods=["POST"]),
    Route("/calls", _endpoint(calls), methods=["GET", "DELETE"]),
    Route("/counters", _endpoint(counters), methods=["GET"]),
    Route("/faults", _endpoint(faults), methods=["GET", "PATCH", "DELETE"]),
    Route("/faults/inject", _endpoint(inject), methods=["POST"]),
    Route("/faults/drop", _endpoint(drop), methods=["POST"]),
    Route("/token", _endpoint(token), methods=["POST"]),
]
