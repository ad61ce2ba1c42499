"""The token endpoint, OpenID discovery, and token checks on Graph routes (in-process)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
import trustme

from app.simulator import SimulatorState
from tests.simulator.keys import ClientCertificate, make_client_certificate
from tests.simulator.support import ROOT

TENANT = "contoso.onmicrosoft.com"
TOKEN_URL = f"https://graph.test/{TENANT}/oauth2/v2.0/token"
SCOPE = "https://graph.microsoft.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def cert() -> ClientCertificate:
    return make_client_certificate()


async def token(anon: httpx.AsyncClient, **form: str) -> httpx.Response:
    fields = {"grant_type": "client_credentials", "scope": SCOPE, **form}
    return await anon.post(f"/{TENANT}/oauth2/v2.0/token", data=fields)


def aad_error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) >= {"error", "error_description", "error_codes", "trace_id", "correlation_id"}
    return body


async def test_openid_configuration_is_built_from_the_request_base(anon: httpx.AsyncClient) -> None:
    response = await anon.get(f"/{TENANT}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == f"https://graph.test/{TENANT}/v2.0"
    assert body["token_endpoint"] == TOKEN_URL
    assert body["authorization_endpoint"] == f"https://graph.test/{TENANT}/oauth2/v2.0/authorize"
    assert body["jwks_uri"] == f"https://graph.test/{TENANT}/discovery/v2.0/keys"
    assert (await anon.get(body["jwks_uri"])).json() == {"keys": []}


async def test_secret_grant_returns_a_bearer_token_that_graph_accepts(
    anon: httpx.AsyncClient,
) -> None:
    response = await token(anon, client_id="app-1", client_secret="s3cret")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("token_type", "expires_in", "ext_expires_in")} == {
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
    }
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["appid"], claims["tid"], claims["aud"]) == (
        "app-1",
        TENANT,
        "https://graph.microsoft.com",
    )
    graph = await anon.get(
        f"{ROOT}/deployments", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert graph.status_code == 200


async def test_basic_auth_credentials_are_accepted(anon: httpx.AsyncClient) -> None:
    response = await anon.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=("app-1", "s3cret"),
    )
    assert response.status_code == 200


async def test_restricted_client_id_and_secret(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    state.client_id, state.client_secret = "app-1", "right"
    wrong_secret = await token(anon, client_id="app-1", client_secret="wrong")
    assert wrong_secret.status_code == 401
    assert aad_error(wrong_secret)["error"] == "invalid_client"
    assert aad_error(wrong_secret)["error_codes"] == [7000215]
    wrong_client = await token(anon, client_id="app-2", client_secret="right")
    assert wrong_client.status_code == 400
    assert aad_error(wrong_client)["error"] == "unauthorized_client"
    assert (await token(anon, client_id="app-1", client_secret="right")).status_code == 200


@pytest.mark.parametrize(
    "scope", ["https://graph.microsoft.com/User.Read", "api://other/.default", ""]
)
async def test_only_the_graph_default_scope_is_issued(anon: httpx.AsyncClient, scope: str) -> None:
    response = await token(anon, client_id="app-1", client_secret="x", scope=scope)
    assert response.status_code == 400
    assert aad_error(response)["error"] == "invalid_scope"


async def test_other_grants_and_missing_credentials_fail(anon: httpx.AsyncClient) -> None:
    password = await token(anon, client_id="app-1", client_secret="x", grant_type="password")
    assert (password.status_code, password.json()["error"]) == (400, "unsupported_grant_type")
    bare = await token(anon, client_id="app-1")
    assert (bare.status_code, bare.json()["error"]) == (401, "invalid_client")
    anonymous = await token(anon, client_secret="x")
    assert (anonymous.status_code, anonymous.json()["error"]) == (400, "invalid_request")


async def test_assertion_without_registered_certificate_needs_only_a_well_formed_jwt(
    anon: httpx.AsyncClient, cert: ClientCertificate
) -> None:
    good = cert.assertion("app-1", TOKEN_URL)
    assert (
        await token(
            anon, client_id="app-1", client_assertion_type=ASSERTION_TYPE, client_assertion=good
        )
    ).status_code == 200
    rs256 = cert.assertion("app-1", TOKEN_URL, alg="RS256")
    assert (
        await token(
            anon, client_id="app-1", client_assertion_type=ASSERTION_TYPE, client_assertion=rs256
        )
    ).status_code == 200
    for bad in (
        cert.assertion("app-2", TOKEN_URL),
        cert.assertion("app-1", "https://login.microsoftonline.com/x/oauth2/v2.0/token"),
        cert.assertion("app-1", TOKEN_URL, lifetime=-3600),
        jwt.encode(
            {"iss": "app-1", "sub": "app-1", "aud": TOKEN_URL, "exp": 9999999999},
            "k" * 32,
            algorithm="HS256",
        ),
        "not-a-jwt",
    ):
        response = await token(
            anon, client_id="app-1", client_assertion_type=ASSERTION_TYPE, client_assertion=bad
        )
        assert response.status_code == 401, bad
        assert response.json()["error"] == "invalid_client"


async def test_assertion_signature_is_verified_against_registered_certificates(
    anon: httpx.AsyncClient, state: SimulatorState, cert: ClientCertificate
) -> None:
    state.register_certificate(cert.cert_pem)
    ok = await token(
        anon,
        client_id="app-1",
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=cert.assertion("app-1", TOKEN_URL),
    )
    assert ok.status_code == 200
    stranger = make_client_certificate("someone-else")
    forged = await token(
        anon,
        client_id="app-1",
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=stranger.assertion("app-1", TOKEN_URL),
    )
    assert forged.status_code == 401
    assert forged.json()["error_codes"] == [700027]


async def test_graph_rejects_missing_forged_and_expired_tokens(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    forged = jwt.encode(
        {"aud": "https://graph.microsoft.com", "exp": 9999999999}, "x" * 32, algorithm="HS256"
    )
    for header in (
        None,
        "Bearer",
        f"Bearer {forged}",
        f"Bearer {state.issue_token(expires_in=-10)}",
        "Basic abc",
    ):
        headers = {"Authorization": header} if header else {}
        response = await anon.get(f"{ROOT}/deployments", headers=headers)
        assert response.status_code == 401, header
        error = response.json()["error"]
        assert error["code"] == "InvalidAuthenticationToken"
        assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    expired = await anon.get(
        f"{ROOT}/deployments",
        headers={"Authorization": f"Bearer {state.issue_token(expires_in=-10)}"},
    )
    assert "expired" in expired.json()["error"]["message"]


async def test_tokens_from_another_simulator_are_rejected(anon: httpx.AsyncClient) -> None:
    other = SimulatorState().issue_token()
    assert (
        await anon.get(f"{ROOT}/deployments", headers={"Authorization": f"Bearer {other}"})
    ).status_code == 401


async def test_auth_can_be_switched_off(anon: httpx.AsyncClient, state: SimulatorState) -> None:
    state.require_auth = False
    assert (await anon.get(f"{ROOT}/deployments")).status_code == 200


async def test_token_calls_are_recorded_without_secrets(
    anon: httpx.AsyncClient, state: SimulatorState
) -> None:
    await token(anon, client_id="app-1", client_secret="s3cret")
    call = state.calls[-1]
    assert call.path == f"/{TENANT}/oauth2/v2.0/token"
    assert call.body == {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "scope": SCOPE,
        "credential": "secret",
    }
    assert "s3cret" not in repr(state.calls)
    assert state.writes() == []


async def test_a_registered_ec_certificate_is_a_refusal_not_a_crash(
    anon: httpx.AsyncClient, state: SimulatorState, cert: ClientCertificate
) -> None:
    ec = trustme.CA().issue_cert("ec-client", key_type=trustme.KeyType.ECDSA)
    state.register_certificate(ec.cert_chain_pems[0].bytes())
    answer = await token(
        anon,
        client_id="app-1",
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=cert.assertion("app-1", TOKEN_URL),
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
