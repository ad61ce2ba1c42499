"""Caller authentication and roles: API keys and bearer JWTs, a role matrix over every route,
401 vs 403, and the classic token attacks — each refused with nothing written or sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from app.auth.api_keys import key_digest
from app.auth.jwks import MAX_AGE_SECONDS, REFRESH_FLOOR_SECONDS
from app.main import create_app
from app.settings import Settings
from app.simulator.state import SimulatorState
from tests.api.helpers import rollout_body, table_counts
from tests.auth.identity_provider import (
    AUDIENCE,
    ISSUER,
    IdentityProvider,
    ec_key,
    rsa_key,
    serving,
)
from tests.conftest import fixed_clock, make_settings

KEYS = {
    role: f"key-of-the-{role}-0123456789abcdef"
    for role in ("reader", "operator", "approver", "admin")
}
API_KEYS = ",".join(f"svc-{role}:{role}:{key_digest(key)}" for role, key in KEYS.items())
RANK = {"reader": 1, "operator": 2, "approver": 3, "admin": 4}
ROLLOUT = "5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38"
OPERATION = "c3f1e2d4-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
DEVICE = "0b8a3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01"

# The contract (api.md, "Authentication and roles"): reader for every GET; operator for
# rollouts, audiences and releases; admin for delete and audit verify.
REQUIRED_ROLE = {
    ("GET", "/v1/catalog/feature-updates"): "reader",
    ("GET", "/v1/catalog/quality-updates"): "reader",
    ("GET", "/v1/rollouts"): "reader",
    ("POST", "/v1/rollouts"): "operator",
    ("GET", "/v1/rollouts/{rolloutId}"): "reader",
    ("PATCH", "/v1/rollouts/{rolloutId}"): "operator",
    ("DELETE", "/v1/rollouts/{rolloutId}"): "admin",
    ("POST", "/v1/rollouts/{rolloutId}/pause"): "operator",
    ("POST", "/v1/rollouts/{rolloutId}/resume"): "operator",
    ("POST", "/v1/rollouts/{rolloutId}/archive"): "operator",
    ("POST", "/v1/rollouts/{rolloutId}/reconcile"): "operator",
    ("POST", "/v1/rollouts/{rolloutId}/audience"): "operator",
    ("GET", "/v1/rollouts/{rolloutId}/devices"): "reader",
    ("GET", "/v1/operations/{operationId}"): "reader",
    ("GET", "/v1/devices"): "reader",
    ("POST", "/v1/devices/release"): "operator",
    ("GET", "/v1/devices/{deviceId}"): "reader",
    ("GET", "/v1/audit/events"): "reader",
    ("GET", "/v1/audit/events/{eventId}"): "reader",
    ("GET", "/v1/audit/verify"): "admin",
    # Change review: anyone may read; approving takes an approver; a requester may withdraw.
    ("GET", "/v1/changes"): "reader",
    ("GET", "/v1/changes/{changeId}"): "reader",
    ("POST", "/v1/changes/{changeId}/approve"): "approver",
    ("POST", "/v1/changes/{changeId}/reject"): "operator",
}


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    with serving(IdentityProvider(keys=[rsa_key("rsa-1"), ec_key("ec-1")])) as running:
        yield running


@pytest.fixture
def settings(clean_database: str, provider: IdentityProvider) -> Settings:
    return make_settings(
        clean_database,
        api_keys=API_KEYS,
        auth_jwt_issuer=ISSUER,
        auth_jwt_audience=AUDIENCE,
        auth_jwks_url=provider.url,
    )


def _documented_operations(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method in operations
    }


def _url(path: str) -> str:
    return (
        path.replace("{rolloutId}", ROLLOUT)
        .replace("{operationId}", OPERATION)
        .replace("{deviceId}", DEVICE)
        .replace("{eventId}", "1")
        .replace("{changeId}", OPERATION)
    )


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    body = {} if method in ("POST", "PATCH") else None
    return await client.request(method, _url(path), json=body, **kwargs)


def test_every_route_has_a_role_in_the_contract(app: FastAPI) -> None:
    assert _documented_operations(app) == set(REQUIRED_ROLE)


def test_the_openapi_document_names_each_routes_role_for_both_schemes(app: FastAPI) -> None:
    document = app.openapi()
    for (method, path), role in REQUIRED_ROLE.items():
        operation = document["paths"][path][method.lower()]
        assert operation["security"] == [{"bearerAuth": [role]}, {"apiKeyAuth": [role]}]
        assert f"**Role:** `{role}` or higher" in operation["description"]
        assert {"401", "403"} <= set(operation["responses"])
    assert "security" not in document["paths"]["/healthz"]["get"]
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}


async def test_without_credentials_every_route_is_401_with_a_challenge(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    for method, path in REQUIRED_ROLE:
        response = await _call(client, method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:problem:unauthenticated"
        challenge = response.headers["www-authenticate"]
        assert 'Bearer realm="autopatch-rollouts"' in challenge
        assert 'ApiKey realm="autopatch-rollouts", header="X-API-Key"' in challenge
    assert simulator.writes() == []
    assert await table_counts(app) == (0, 0)


async def test_role_matrix(
    app: FastAPI, client: httpx.AsyncClient, simulator: SimulatorState
) -> None:
    for (method, path), required in REQUIRED_ROLE.items():
        for role, key in KEYS.items():
            response = await _call(client, method, path, headers={"X-API-Key": key})
            if RANK[role] < RANK[required]:
                assert response.status_code == 403, (role, method, path, response.text)
                problem = response.json()
                assert problem["type"] == "urn:problem:forbidden"
                assert problem["requiredRole"] == required
                assert f"svc-{role} has {role}" in problem["detail"]
            else:
                assert response.status_code not in (401, 403), (role, method, path, response.text)
    # Every request above was refused or had an empty body, unknown ids: nothing was changed.
    assert simulator.writes() == []
    assert await table_counts(app) == (0, 0)


async def test_an_api_key_is_the_audit_actor(app: FastAPI, client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/rollouts", json=rollout_body(), headers={"X-API-Key": KEYS["operator"]}
    )
    assert created.status_code == 201, created.text
    events = (await client.get("/v1/audit/events", headers={"X-API-Key": KEYS["reader"]})).json()
    assert {event["actor"] for event in events["items"]} == {"svc-operator"}


async def test_a_wrong_api_key_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/rollouts", headers={"X-API-Key": KEYS["admin"] + "x"})
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key is not valid."


async def test_two_credentials_at_once_are_refused(
    client: httpx.AsyncClient, provider: IdentityProvider
) -> None:
    token = provider.token(roles=["admin"])
    response = await client.get(
        "/v1/rollouts",
        headers={"X-API-Key": KEYS["admin"], "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert "one credential" in response.json()["detail"]


@pytest.mark.parametrize("key", ["rsa-1", "ec-1"])
async def test_a_valid_token_names_the_actor_and_its_role(
    app: FastAPI, client: httpx.AsyncClient, provider: IdentityProvider, key: str
) -> None:
    signing = next(k for k in provider.keys if k.kid == key)
    token = provider.token(signing, roles=["reader", "operator"], name="alice@example.test")
    headers = {"Authorization": f"Bearer {token}"}
    created = await client.post("/v1/rollouts", json=rollout_body(), headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["createdBy"] == "alice@example.test"
    # operator is her highest role: delete needs admin.
    deleted = await client.delete(f"/v1/rollouts/{created.json()['id']}", headers=headers)
    assert deleted.status_code == 403
    assert deleted.json()["requiredRole"] == "admin"


def _mallory_as_admin() -> dict[str, Any]:
    """Claims a forger would want accepted: valid issuer, audience and times, role admin."""
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "sub": "mallory",
        "roles": ["admin"],
    }


def _hs256_with_public_key(provider: IdentityProvider) -> str:
    """The classic confusion attack: the RSA public key used as an HMAC secret."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    claims = _mallory_as_admin()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    secret = provider.keys[0].public_pem()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _unsigned(provider: IdentityProvider) -> str:
    return jwt.encode(_mallory_as_admin(), None, algorithm="none", headers={"kid": "rsa-1"})


def _forged_alg(provider: IdentityProvider) -> str:
    """A token signed with an EC key but naming the RSA key's kid."""
    return provider.token(ec_key("x"), roles=["admin"], headers={"kid": "rsa-1"})


ATTACKS = {
    "wrong issuer": (
        lambda p: p.token(roles=["admin"], iss="https://evil.test/"),
        "another issuer",
    ),
    "wrong audience": (lambda p: p.token(roles=["admin"], aud="api://other"), "another audience"),
    "expired": (lambda p: p.token(roles=["admin"], exp=int(time.time()) - 120), "expired"),
    "not yet valid": (
        lambda p: p.token(roles=["admin"], nbf=int(time.time()) + 600),
        "not valid yet",
    ),
    "no expiry": (lambda p: p.token(roles=["admin"], exp=None), "no exp claim"),
    "other key, same kid": (
        lambda p: p.token(rsa_key("rsa-1"), roles=["admin"]),
        "signature does not verify",
    ),
    "alg none": (_unsigned, "algorithm is not accepted"),
    "HS256 signed with the public key": (_hs256_with_public_key, "algorithm is not accepted"),
    "EC signature under the RSA key's kid": (_forged_alg, "algorithm"),
    "garbage": (lambda p: "not.a.jwt", "not a JWT"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_token_attacks_are_refused_and_change_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    simulator: SimulatorState,
    provider: IdentityProvider,
    attack: str,
) -> None:
    make, reason = ATTACKS[attack]
    token = make(provider)
    response = await client.post(
        "/v1/rollouts", json=rollout_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401, response.text
    assert reason in response.json()["detail"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert token not in response.text  # the token is never echoed
    assert simulator.writes() == []
    assert await table_counts(app) == (0, 0)


async def test_a_token_without_a_role_is_403(
    client: httpx.AsyncClient, provider: IdentityProvider
) -> None:
    response = await client.get(
        "/v1/rollouts", headers={"Authorization": f"Bearer {provider.token(roles=['Owner'])}"}
    )
    assert response.status_code == 403
    assert "none of this service's" in response.json()["detail"]


async def test_an_unknown_kid_refetches_the_keys_once_per_floor(
    app: FastAPI, client: httpx.AsyncClient, provider: IdentityProvider
) -> None:
    cache = app.state.services.auth.bearer.keys
    now = [1000.0]
    cache.clock = lambda: now[0]

    async def status(token: str) -> int:
        response = await client.get("/v1/rollouts", headers={"Authorization": f"Bearer {token}"})
        return response.status_code

    assert await status(provider.token(roles=["reader"])) == 200
    assert provider.fetches == 1
    # Forged kids: refused, and within the floor the identity provider is not asked again.
    for number in range(5):
        assert await status(provider.token(rsa_key(f"forged-{number}"), roles=["admin"])) == 401
    assert provider.fetches == 1
    # The provider rotates in a new key; past the floor, a token signed with it is accepted
    # after one refetch.
    rotated = rsa_key("rsa-2")
    provider.keys.append(rotated)
    now[0] += REFRESH_FLOOR_SECONDS
    assert await status(provider.token(rotated, roles=["reader"])) == 200
    assert provider.fetches == 2
    # And past the keys' maximum age the set is refetched even when every kid is known.
    now[0] += MAX_AGE_SECONDS
    assert await status(provider.token(rotated, roles=["reader"])) == 200
    assert provider.fetches == 3


async def test_identity_provider_down_before_any_key_is_503(
    client: httpx.AsyncClient, provider: IdentityProvider
) -> None:
    provider.down = True
    response = await client.get(
        "/v1/rollouts", headers={"Authorization": f"Bearer {provider.token(roles=['reader'])}"}
    )
    assert response.status_code == 503
    assert response.json()["type"] == "urn:problem:identity-provider-unavailable"
    # API keys do not depend on it.
    assert (
        await client.get("/v1/rollouts", headers={"X-API-Key": KEYS["reader"]})
    ).status_code == 200


async def test_a_nested_roles_claim(clean_database: str, provider: IdentityProvider) -> None:
    settings = make_settings(
        clean_database,
        auth_jwt_issuer=ISSUER,
        auth_jwt_audience=AUDIENCE,
        auth_jwks_url=provider.url,
        auth_roles_claim="realm_access.roles",
    )
    application = create_app(settings, simulator_state=SimulatorState(), clock=fixed_clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            nested = provider.token(realm_access={"roles": ["reader"]})
            flat = provider.token(roles=["reader"])
            ok = await http.get("/v1/rollouts", headers={"Authorization": f"Bearer {nested}"})
            refused = await http.get("/v1/rollouts", headers={"Authorization": f"Bearer {flat}"})
    assert ok.status_code == 200
    assert refused.status_code == 403
