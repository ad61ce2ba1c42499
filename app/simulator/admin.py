"""The simulator's own admin API under /_simulator (no token): clock, config, faults, calls.

Every endpoint checks its body with admin_schema: a bad one is answered
`400 {"error": {"code": "invalidRequest", "message": …, "field": …}}` naming the field.
docs/simulator.md documents each endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.simulator.admin_schema import AdminError, Spec, parse_body
from app.simulator.state import SimulatorState
from app.simulator.timefmt import format_datetime

CONFIG = {
    "synchronous": Spec("bool", attr="synchronous"),
    "asyncDelaySeconds": Spec("number", minimum=0, attr="async_delay_seconds"),
    "pageSize": Spec("int", minimum=1, attr="page_size"),
    "maxIdsPerCall": Spec("int", minimum=1, attr="max_ids_per_call"),
    "emptyAudience404": Spec("bool", attr="empty_audience_404"),
    "requireAuth": Spec("bool", attr="require_auth"),
    "clientId": Spec("str", nullable=True, attr="client_id"),
    "clientSecret": Spec("str", nullable=True, attr="client_secret"),
    "grantedRoles": Spec("ids", attr="granted_roles"),  # application permissions in tokens
}
RATES = {
    "latencySeconds": Spec("number", minimum=0, attr="latency_seconds"),
    "throttleRate": Spec("number", minimum=0, maximum=1, attr="throttle_rate"),
    "unavailableRate": Spec("number", minimum=0, maximum=1, attr="unavailable_rate"),
    "retryAfterSeconds": Spec("int", minimum=0, attr="retry_after_seconds"),
}
FAULTS = {
    **RATES,
    "rateMethods": Spec("methods", nullable=True),
    "maxIdsPerCall": CONFIG["maxIdsPerCall"],
}
ERROR_STATUS = Spec("int", minimum=400, maximum=599)
MATCH = {
    "count": Spec("int", minimum=1),
    "method": Spec("method", nullable=True),
    "pathContains": Spec("str", nullable=True),
}
INJECT = {
    "status": Spec("int", required=True, minimum=400, maximum=599),
    **MATCH,
    "retryAfter": Spec("int", nullable=True, minimum=0),
    "code": Spec("str", nullable=True),
    "message": Spec("str", nullable=True),
}
DROP = {"status": ERROR_STATUS, **MATCH, "hangSeconds": Spec("number", nullable=True, minimum=0)}
CLOCK = {
    "now": Spec("datetime"),
    "advanceSeconds": Spec("number", minimum=0),
    "real": Spec("bool"),
}
RESET = {"seed": Spec("int", nullable=True)}
SYNCHRONOUS = {"synchronous": Spec("bool", required=True)}
KNOWN_DEVICES = {"ids": Spec("ids", required=True, nullable=True)}
MONITORING = {"rollbackPercent": Spec("number", required=True, minimum=0, maximum=100)}
TOKEN = {"clientId": Spec("str"), "expiresIn": Spec("int")}
CALLS_QUERY = {"method", "pathContains", "pathEndsWith", "status"}
NO_BODY: dict[str, Spec] = {}

AdminHandler = Callable[[Request, SimulatorState, dict[str, Any]], Any]


def _endpoint(
    handler: AdminHandler, fields: dict[str, Spec]
) -> Callable[[Request], Awaitable[Response]]:
    """Parse and check the body against `fields`, run the handler under the state lock."""

    async def endpoint(request: Request) -> Response:
        state: SimulatorState = request.app.state.simulator
        try:
            body = _json_body(await request.body()) if request.method != "GET" else {}
            values = parse_body(body, fields if request.method != "DELETE" else NO_BODY)
            with state.lock:
                result = handler(request, state, values)
        except AdminError as exc:
            return JSONResponse(exc.to_json(), status_code=exc.status)
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result)

    return endpoint


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminError(f"The body is not valid JSON: {exc}.") from exc


def _assign(target: object, fields: dict[str, Spec], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if fields[key].attr:
            setattr(target, fields[key].attr, value)


def _read(target: object, fields: dict[str, Spec]) -> dict[str, Any]:
    return {key: getattr(target, spec.attr) for key, spec in fields.items() if spec.attr}


def reset(request: Request, state: SimulatorState, body: dict[str, Any]) -> None:
    """POST /_simulator/reset {seed?}: drop data, faults and calls; keep configuration."""
    state.reset(seed=body.get("seed"))


def clock(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """GET / POST /_simulator/clock {now: ISO} | {advanceSeconds: n} | {real: true}."""
    if body.get("real"):
        state.clock.real()
    if "now" in body:
        state.clock.set(body["now"])
    if "advanceSeconds" in body:
        state.clock.advance(float(body["advanceSeconds"]))
    state.apply_due()
    return {"now": format_datetime(state.now()), "frozen": state.clock.frozen}


def config(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """GET / PATCH /_simulator/config: synchronous, asyncDelaySeconds, pageSize, … (camelCase)."""
    _assign(state, CONFIG, body)
    return _read(state, CONFIG)


def synchronous(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/synchronous {synchronous: bool}."""
    state.synchronous = body["synchronous"]
    return {"synchronous": state.synchronous}


def known_devices(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """PUT /_simulator/known-devices {ids: [...] | null}: the tenant's device ids."""
    ids = body["ids"]
    state.known_devices = set(ids) if ids is not None else None
    return {"ids": sorted(state.known_devices) if state.known_devices is not None else None}


def monitoring(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/deployments/{id}/monitoring {rollbackPercent: n}."""
    deployment_id = request.path_params["id"]
    if deployment_id not in state.deployments:
        raise AdminError(f"There is no deployment '{deployment_id}'.", "id", status=404)
    state.set_monitoring_signal(deployment_id, float(body["rollbackPercent"]))
    return {"pausedByMonitoring": state.deployments[deployment_id].paused_by_monitoring}


def apply(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/apply: apply all pending 202 changes now."""
    return {"applied": state.flush()}


def calls(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any] | None:
    """GET /_simulator/calls?method=&pathContains=&pathEndsWith=&status= ; DELETE clears the log."""
    if request.method == "DELETE":
        state.clear_calls()
        return None
    q = request.query_params
    for key in q:
        if key not in CALLS_QUERY:
            known = ", ".join(sorted(CALLS_QUERY))
            raise AdminError(f"Unknown query parameter '{key}' (use {known}).", key)
    status = q.get("status")
    if status is not None and not status.isdigit():
        raise AdminError(f"'status' must be an HTTP status code; got {status!r}.", "status")
    found = state.find(
        q.get("method"),
        q.get("pathContains"),
        int(status) if status else None,
        path_endswith=q.get("pathEndsWith"),
    )
    return {"value": [c.to_json() for c in found]}


def counters(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """GET /_simulator/counters: totals by status, and Graph writes."""
    by_status: dict[str, int] = {}
    for call in list(state.calls):
        by_status[str(call.status)] = by_status.get(str(call.status), 0) + 1
    return {"calls": len(state.calls), "writes": len(state.writes()), "byStatus": by_status}


def faults(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any] | None:
    """GET / PATCH / DELETE /_simulator/faults (latency, rates, Retry-After, rateMethods, cap)."""
    if request.method == "DELETE":
        state.faults.clear()
        return None
    throttle = body.get("throttleRate", state.faults.throttle_rate)
    unavailable = body.get("unavailableRate", state.faults.unavailable_rate)
    if throttle + unavailable > 1:
        field = "unavailableRate" if "unavailableRate" in body else "throttleRate"
        raise AdminError("'throttleRate' + 'unavailableRate' must not exceed 1.", field)
    _assign(state.faults, RATES, {k: v for k, v in body.items() if k in RATES})
    if "maxIdsPerCall" in body:
        state.max_ids_per_call = body["maxIdsPerCall"]
    if "rateMethods" in body:
        methods = body["rateMethods"]
        state.faults.rate_methods = frozenset(methods) if methods else None
    rate_methods = state.faults.rate_methods
    return {
        **_read(state.faults, RATES),
        "rateMethods": sorted(rate_methods) if rate_methods is not None else None,
        "maxIdsPerCall": state.max_ids_per_call,
        "scripted": len(state.faults.scripted),
        "drops": len(state.faults.drops),
    }


def inject(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/faults/inject {status, count?, retryAfter?, method?, pathContains?, …}."""
    state.faults.inject(
        body["status"],
        count=body.get("count", 1),
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
        body.get("status", 504),
        count=body.get("count", 1),
        method=body.get("method"),
        path_contains=body.get("pathContains"),
        hang_seconds=body.get("hangSeconds"),
    )
    return {"drops": len(state.faults.drops)}


def token(request: Request, state: SimulatorState, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_simulator/token {clientId?, expiresIn?}: a Graph token without the OAuth dance."""
    client_id = body.get("clientId", "simulator-client")
    expires_in = body.get("expiresIn", 3599)
    return {"access_token": state.issue_token(client_id, expires_in=expires_in)}


ROUTES = [
    Route("/reset", _endpoint(reset, RESET), methods=["POST"]),
    Route("/clock", _endpoint(clock, CLOCK), methods=["GET", "POST"]),
    Route("/config", _endpoint(config, CONFIG), methods=["GET", "PATCH"]),
    Route("/synchronous", _endpoint(synchronous, SYNCHRONOUS), methods=["POST"]),
    Route("/known-devices", _endpoint(known_devices, KNOWN_DEVICES), methods=["PUT"]),
    Route("/deployments/{id}/monitoring", _endpoint(monitoring, MONITORING), methods=["POST"]),
    Route("/apply", _endpoint(apply, NO_BODY), methods=["POST"]),
    Route("/calls", _endpoint(calls, NO_BODY), methods=["GET", "DELETE"]),
    Route("/counters", _endpoint(counters, NO_BODY), methods=["GET"]),
    Route("/faults", _endpoint(faults, FAULTS), methods=["GET", "PATCH", "DELETE"]),
    Route("/faults/inject", _endpoint(inject, INJECT), methods=["POST"]),
    Route("/faults/drop", _endpoint(drop, DROP), methods=["POST"]),
    Route("/token", _endpoint(token, TOKEN), methods=["POST"]),
]
