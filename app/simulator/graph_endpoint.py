"""The Graph pipeline: ids, faults, auth, routing, the error envelope and call recording."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.simulator import routes_assets, routes_audiences, routes_catalog, routes_deployments
from app.simulator.call import GraphCall, Reply, Route
from app.simulator.calls import CallRecord
from app.simulator.context import context_url
from app.simulator.errors import GraphError, error_envelope
from app.simulator.faults import DEFAULT_CODES
from app.simulator.query import check_expand, check_supported, expand_items, system_options
from app.simulator.state import SimulatorState
from app.simulator.tokens import TokenInvalid, missing_permission, verify_access_token

GRAPH_VERSION = "/beta"
ROOT = f"{GRAPH_VERSION}/admin/windows/updates"
ROUTES: list[Route] = [
    *routes_catalog.ROUTES,
    *routes_deployments.ROUTES,
    *routes_audiences.ROUTES,
    *routes_assets.ROUTES,
]
UNKNOWN_ENUM_PREFERENCE = "include-unknown-enum-members"
WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'
)


class _Ids:
    """The request-id Graph assigns and the client-request-id it echoes."""

    def __init__(self, request: Request) -> None:
        self.request_id = str(uuid.uuid4())
        self.client_request_id = request.headers.get("client-request-id") or self.request_id


def _prefers_unknown_enums(request: Request) -> bool:
    prefer = ",".join(request.headers.getlist("prefer"))
    return UNKNOWN_ENUM_PREFERENCE in {p.strip().lower() for p in prefer.split(",")}


def _parse_body(raw: bytes) -> tuple[Any, bool]:
    if not raw.strip():
        return None, True
    try:
        return json.loads(raw), True
    except ValueError:
        return None, False


def _error(status: int, code: str, message: str, retry_after: int | None = None) -> GraphError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return GraphError(status, code, message, headers=headers)


def _route(call: GraphCall, method: str, sub_path: str) -> tuple[Route, Reply]:
    path_matched = False
    for candidate in ROUTES:
        match = candidate.pattern.match(sub_path)
        if match is None:
            continue
        path_matched = True
        if candidate.method == method:
            call.params = match.groupdict()
            check_supported(call.options, candidate.options)
            check_expand(call.options, candidate.expandable, candidate.entity_type)
            return candidate, candidate.handler(call)
    if path_matched:
        raise GraphError(405, "MethodNotAllowed", f"{method} is not allowed on this resource.")
    segment = sub_path.strip("/").split("/")[-1] if sub_path.strip("/") else "updates"
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _with_context(reply: Reply, matched: Route, call: GraphCall, request: Request) -> Reply:
    """Put Graph's `@odata.context` first in a successful JSON answer."""
    if matched.context is None or not isinstance(reply.body, dict) or reply.status >= 300:
        return reply
    service_root = str(request.base_url).rstrip("/") + GRAPH_VERSION
    context = context_url(service_root, matched.context, call.params, expand_items(call.options))
    reply.body = {"@odata.context": context, **reply.body}
    return reply


async def _process(request: Request, state: SimulatorState, body: Any, body_ok: bool) -> Reply:
    method, path = request.method, request.url.path
    faults = state.faults
    if faults.latency_seconds > 0:
        await asyncio.sleep(faults.latency_seconds)
    scripted = faults.take_scripted(method, path)
    if scripted is not None:
        message = scripted.message or f"Injected fault ({scripted.status})."
        raise _error(scripted.status, scripted.error_code, message, scripted.retry_after)
    rolled = faults.roll(method)
    if rolled is not None:
        message = "Too many requests." if rolled == 429 else "The service is unavailable."
        raise _error(rolled, DEFAULT_CODES[rolled], message, faults.retry_after_seconds)
    if state.require_auth:
        try:
            claims = verify_access_token(state.token_key, request.headers.get("authorization"))
        except TokenInvalid as exc:
            err = _error(401, "InvalidAuthenticationToken", str(exc))
            err.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
            raise err from exc
        missing = missing_permission(claims, method)
        if missing is not None:
            raise _error(403, "Forbidden", missing)
    if not body_ok:
        raise _error(400, "BadRequest", "Unable to read JSON request payload.")
    call = GraphCall(state, method, {}, request.query_params, body, request.url, False)
    call.include_unknown_enum = _prefers_unknown_enums(request)
    call.options = system_options(request.query_params)
    sub_path = path[len(ROOT) :] if path.startswith(ROOT + "/") else "\0" + path
    with state.lock:
        state.apply_due()
        matched, reply = _route(call, method, sub_path)
        reply = _with_context(reply, matched, call, request)
    drop = faults.take_drop(method, path)
    if drop is not None:
        if drop.hang_seconds:
            await asyncio.sleep(drop.hang_seconds)
        code = DEFAULT_CODES.get(drop.status, "UnknownError")
        raise _error(drop.status, code, "The operation timed out before a response was sent.")
    return reply


async def graph_endpoint(request: Request) -> Response:
    """Serve one Graph call under /beta."""
    state: SimulatorState = request.app.state.simulator
    ids = _Ids(request)
    body, body_ok = _parse_body(await request.body())
    try:
        reply = await _process(request, state, body, body_ok)
    except GraphError as exc:
        envelope = error_envelope(
            exc.code,
            exc.message,
            date=state.now(),
            request_id=ids.request_id,
            client_request_id=ids.client_request_id,
            target=exc.target,
        )
        reply = Reply(exc.status, envelope, dict(exc.headers))
    headers = {
        **reply.headers,
        "request-id": ids.request_id,
        "client-request-id": ids.client_request_id,
    }
    if _prefers_unknown_enums(request):
        headers["Preference-Applied"] = UNKNOWN_ENUM_PREFERENCE
    state.calls.append(
        CallRecord(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            status=reply.status,
            body=body,
            request_id=ids.request_id,
            client_request_id=request.headers.get("client-request-id"),
        )
    )
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)
