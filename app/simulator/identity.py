"""The identity platform side: OpenID discovery and the client-credentials token endpoint."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.simulator.assertions import ASSERTION_TYPE, AssertionInvalid, verify_assertion
from app.simulator.calls import CallRecord
from app.simulator.state import SimulatorState
from app.simulator.tokens import GRAPH_SCOPE, TOKEN_LIFETIME

RESERVED_SCOPES = {"openid", "profile", "offline_access"}


class IdentityError(Exception):
    """An AADSTS-style OAuth error: status, `error` and `error_description`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def token_endpoint_url(request: Request, tenant: str) -> str:
    """The token endpoint URL as seen by this request's client."""
    return f"{_base(request)}/{tenant}/oauth2/v2.0/token"


async def openid_configuration(request: Request) -> Response:
    """GET /{tenant}/v2.0/.well-known/openid-configuration, built from the request's own base."""
    tenant = request.path_params["tenant"]
    base = f"{_base(request)}/{tenant}"
    return JSONResponse(
        {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "request_uri_parameter_supported": False,
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }
    )


async def jwks(request: Request) -> Response:
    """GET /{tenant}/discovery/v2.0/keys: empty (access tokens are HMAC-signed, not RSA)."""
    return JSONResponse({"keys": []})


def _form(raw: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password


def _check_scope(scope: str | None) -> None:
    scopes = set((scope or "").split()) - RESERVED_SCOPES
    if scopes != {GRAPH_SCOPE}:
        raise IdentityError(
            400,
            "invalid_scope",
            f"AADSTS70011: The provided request must include a 'scope' input parameter. The "
            f"provided value for the input parameter 'scope' ('{scope}') is not valid; this "
            f"simulator issues tokens for '{GRAPH_SCOPE}' only.",
        )


def _authenticate(state: SimulatorState, request: Request, form: dict[str, str]) -> str:
    """Check the client's credentials and return its client id."""
    basic = _basic_credentials(request)
    client_id = form.get("client_id") or (basic[0] if basic else None)
    secret = form.get("client_secret") or (basic[1] if basic else None)
    if not client_id:
        raise IdentityError(
            400,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        )
    if state.client_id is not None and client_id != state.client_id:
        raise IdentityError(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
            "directory.",
        )
    assertion = form.get("client_assertion")
    if assertion:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise IdentityError(
                400, "invalid_request", "AADSTS50027: client_assertion_type must be jwt-bearer."
            )
        try:
            verify_assertion(
                assertion,
                client_id=client_id,
                token_endpoint=token_endpoint_url(request, request.path_params["tenant"]),
                certificates=state.client_certificates,
            )
        except AssertionInvalid as exc:
            raise IdentityError(401, "invalid_client", str(exc)) from exc
        return client_id
    if not secret:
        raise IdentityError(
            401,
            "invalid_client",
            "AADSTS7000218: The request body must contain the following parameter: "
            "'client_assertion' or 'client_secret'.",
        )
    if state.client_secret is not None and secret != state.client_secret:
        raise IdentityError(
            401,
            "invalid_client",
            f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
            f"request is the client secret value, not the client secret ID, for a secret added "
            f"to app '{client_id}'.",
        )
    return client_id


def _issue(state: SimulatorState, request: Request, form: dict[str, str]) -> dict[str, Any]:
    fault = state.faults.take_scripted(request.method, request.url.path)
    if fault is not None:
        raise IdentityError(fault.status, "temporarily_unavailable", "AADSTS-injected fault.")
    if form.get("grant_type") != "client_credentials":
        raise IdentityError(
            400,
            "unsupported_grant_type",
            f"AADSTS70003: The app requested an unsupported grant type "
            f"'{form.get('grant_type')}'; this simulator supports client_credentials.",
        )
    client_id = _authenticate(state, request, form)
    _check_scope(form.get("scope"))
    token = state.issue_token(client_id, request.path_params["tenant"])
    return {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "ext_expires_in": TOKEN_LIFETIME,
        "access_token": token,
    }


async def token(request: Request) -> Response:
    """POST /{tenant}/oauth2/v2.0/token (client-credentials grant)."""
    state: SimulatorState = request.app.state.simulator
    form = _form(await request.body())
    request_id = str(uuid.uuid4())  # Entra's x-ms-request-id, also the trace id of its errors
    status = 200
    try:
        with state.lock:
            body = _issue(state, request, form)
    except IdentityError as exc:
        status = exc.status
        body = _aad_error(exc, request_id)
    state.calls.append(
        CallRecord(
            method="POST",
            path=request.url.path,
            query=request.url.query,
            status=status,
            body={
                "grant_type": form.get("grant_type"),
                "client_id": form.get("client_id"),
                "scope": form.get("scope"),
                "credential": "assertion" if form.get("client_assertion") else "secret",
            },
            request_id=request_id,
            client_request_id=request.headers.get("client-request-id"),
        )
    )
    headers = {"x-ms-request-id": request_id}
    if request.headers.get("client-request-id"):
        headers["client-request-id"] = request.headers["client-request-id"]
    return JSONResponse(body, status_code=status, headers=headers)


def _aad_error(exc: IdentityError, trace: str) -> dict[str, Any]:
    code = exc.description.split(":")[0].removeprefix("AADSTS")
    return {
        "error": exc.error,
        "error_description": f"{exc.description}\r\nTrace ID: {trace}",
        "error_codes": [int(code)] if code.isdigit() else [],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
    }
