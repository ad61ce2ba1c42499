"""Secrets never reach the logs, problem details, audit events or the OpenAPI document: the
service runs as its own process at LOG_LEVEL=debug, with a Graph client secret or certificate,
API keys and bearer tokens, through successes and failures; then everything it printed is
searched for each secret."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.auth.api_keys import key_digest
from app.simulator.state import SimulatorState
from tests.api.helpers import rollout_body
from tests.auth.identity_provider import AUDIENCE, ISSUER, IdentityProvider, rsa_key, serving
from tests.db_server import REPO
from tests.e2e.processes import free_port, wait_until_answering
from tests.graph.tls_server import serve_tls
from tests.simulator.keys import make_client_certificate

TOKEN_PATH = "/oauth2/v2.0/token"


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    with serving(IdentityProvider(keys=[rsa_key("rsa-1")])) as running:
        yield running


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_no_secret_is_printed_answered_audited_or_documented(
    clean_database: str, tmp_path: Path, provider: IdentityProvider, credential: str
) -> None:
    client_secret = "graph-secret-" + secrets.token_hex(16)
    api_key = "api-key-" + secrets.token_hex(16)
    state = SimulatorState(client_id="app", client_secret=client_secret, synchronous=True)
    env = {
        **os.environ,
        "DATABASE_URL": clean_database,
        "GRAPH_MODE": "live",
        "GRAPH_TENANT_ID": "contoso",
        "GRAPH_CLIENT_ID": "app",
        "API_KEYS": f"svc-ci:operator:{key_digest(api_key)}",
        "AUTH_JWT_ISSUER": ISSUER,
        "AUTH_JWT_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": provider.url,
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "json",
    }
    hidden = [client_secret, api_key]
    if credential == "certificate":
        certificate = make_client_certificate()
        state.register_certificate(certificate.cert_pem)
        pem = tmp_path / "client.pem"
        pem.write_text(certificate.key_pem + certificate.cert_pem)
        env["GRAPH_CLIENT_CERTIFICATE_PATH"] = str(pem)
        # Every line of the key's base64 body is a secret.
        hidden += [line for line in certificate.key_pem.splitlines() if "-----" not in line]
    else:
        env["GRAPH_CLIENT_SECRET"] = client_secret
    good_token = provider.token(roles=["operator"])
    expired_token = provider.token(roles=["admin"], exp=1)
    wrong_audience = provider.token(roles=["admin"], aud="api://other")
    hidden += [good_token, expired_token, wrong_audience]
    hidden += [token.split(".")[2] for token in (good_token, expired_token, wrong_audience)]

    log = tmp_path / "service.log"
    answers: list[str] = []
    with serve_tls(state, tmp_path / "tls") as sim:
        env.update(
            GRAPH_BASE_URL=f"{sim.url}/beta",
            GRAPH_AUTHORITY_HOST=sim.url,
            GRAPH_CA_BUNDLE=str(sim.tls.ca_pem),
        )
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(process, base)
            with httpx.Client(base_url=base, timeout=60) as http:
                bearer = {"Authorization": f"Bearer {good_token}"}
                created = http.post(
                    "/v1/rollouts",
                    json=rollout_body(),
                    headers={**bearer, "Idempotency-Key": secrets.token_hex(8)},
                )
                assert created.status_code == 201, created.text
                answers.append(created.text)
                for headers in (
                    {"X-API-Key": api_key},
                    {"X-API-Key": api_key + "-wrong"},
                    {"Authorization": f"Bearer {expired_token}"},
                    {"Authorization": f"Bearer {wrong_audience}"},
                    {"Authorization": f"Bearer {good_token}", "X-API-Key": api_key},
                    {"Authorization": f"Basic {api_key}"},
                ):
                    answers.append(http.get("/v1/rollouts", headers=headers).text)
                # Graph refuses the token, and the token endpoint then refuses a new one: the
                # failure is logged and answered, without the credential.
                state.faults.inject(401, method="PATCH", code="InvalidAuthenticationToken")
                state.faults.inject(401, count=50, path_contains=TOKEN_PATH)
                refused = http.post(
                    f"/v1/rollouts/{created.json()['id']}/pause",
                    json={"ticket": "CHG1"},
                    headers={"X-API-Key": api_key},
                )
                assert refused.status_code == 503, refused.text
                assert refused.json()["type"] == "urn:problem:graph-authentication"
                answers.append(refused.text)
                answers.append(http.get("/v1/audit/events", headers=bearer).text)
                answers.append(http.get("/openapi.json").text)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    printed = log.read_text(encoding="utf-8", errors="replace")
    assert "service started" in printed
    assert '"level": "debug"' in printed  # debug logging really was on
    assert state.count("POST", TOKEN_PATH, status=401) >= 1  # the failure path really ran
    for secret in hidden:
        assert secret not in printed
        for answer in answers:
            assert secret not in answer
