"""`python -m app.simulator --tls` on a real port, with MSAL getting tokens from it."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msal
import pytest
import requests

from tests.simulator.keys import ClientCertificate, make_client_certificate
from tests.simulator.processes import free_port, stop, wait_for

REPO = Path(__file__).resolve().parents[2]
TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "standalone-secret"
SCOPES = ["https://graph.microsoft.com/.default"]


@dataclass
class Standalone:
    base: str
    ca: Path
    cert: ClientCertificate


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    tmp = tmp_path_factory.mktemp("standalone")
    cert = make_client_certificate()
    (tmp / "client.pem").write_text(cert.cert_pem)
    port = free_port()
    cmd = [
        sys.executable, "-m", "app.simulator", "--port", str(port), "--tls",
        "--cert-dir", str(tmp / "tls"), "--client-id", CLIENT_ID, "--client-secret", SECRET,
        "--client-certificate", str(tmp / "client.pem"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for(port, proc, time.monotonic() + 20)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == f"CA certificate: {tmp / 'tls' / 'ca.pem'}"
        yield Standalone(f"https://127.0.0.1:{port}", tmp / "tls" / "ca.pem", cert)
    finally:
        stop(proc)


def msal_app(sim: Standalone, credential: object) -> msal.ConfidentialClientApplication:
    session = requests.Session()
    session.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE, which would beat verify=
    session.verify = str(sim.ca)
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=credential,
        authority=f"{sim.base}/{TENANT}",
        instance_discovery=False,
        http_client=session,
    )


def graph_get(sim: Standalone, token: str, path: str) -> httpx.Response:
    with httpx.Client(verify=ssl.create_default_context(cafile=sim.ca), trust_env=False) as http:
        return http.get(
            f"{sim.base}/beta/admin/windows/updates{path}",
            headers={"Authorization": f"Bearer {token}"},
        )


def test_msal_with_a_secret_over_tls_then_graph(standalone: Standalone) -> None:
    app = msal_app(standalone, SECRET)
    result = app.acquire_token_for_client(scopes=SCOPES)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    again = app.acquire_token_for_client(scopes=SCOPES)
    assert again["access_token"] == result["access_token"]
    assert again.get("token_source") == "cache"
    response = graph_get(standalone, result["access_token"], "/catalog/entries")
    assert response.status_code == 200
    assert len(response.json()["value"]) == 12
    assert response.headers["request-id"]


def test_msal_with_a_certificate_over_tls_then_graph(standalone: Standalone) -> None:
    credential = {
        "private_key": standalone.cert.key_pem,
        "public_certificate": standalone.cert.cert_pem,
    }
    result = msal_app(standalone, credential).acquire_token_for_client(scopes=SCOPES)
    assert "access_token" in result, result
    assert graph_get(standalone, result["access_token"], "/deployments").status_code == 200


def test_a_certificate_the_simulator_does_not_know_is_refused(standalone: Standalone) -> None:
    other = make_client_certificate("not-registered")
    credential = {"private_key": other.key_pem, "public_certificate": other.cert_pem}
    result = msal_app(standalone, credential).acquire_token_for_client(scopes=SCOPES)
    assert result.get("error") == "invalid_client"


def test_a_wrong_secret_is_refused_and_calls_are_visible_over_admin(standalone: Standalone) -> None:
    result = msal_app(standalone, "wrong").acquire_token_for_client(scopes=SCOPES)
    assert result.get("error") == "invalid_client"
    ctx = ssl.create_default_context(cafile=standalone.ca)
    with httpx.Client(verify=ctx, trust_env=False) as http:
        calls = http.get(
            f"{standalone.base}/_simulator/calls", params={"pathContains": "oauth2"}
        ).json()["value"]
    assert [c["status"] for c in calls] == [200, 200, 401, 401]
