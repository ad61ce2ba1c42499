"""The real MSAL provider against the standalone simulator over TLS: secret, certificate, cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from app.graph.auth import (
    MsalTokenProvider,
    load_certificate_credential,
    requests_session,
    scope_for,
)
from app.graph.errors import GraphAuthError
from app.graph.factory import build_graph_client
from app.settings import Settings
from app.simulator import SimulatorState
from tests.auth.keys import API_KEYS
from tests.graph.tls_server import RunningSimulator, serve_tls

TOKEN_PATH = "/oauth2/v2.0/token"


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    state = SimulatorState(client_id="msal-client", client_secret="msal-secret", synchronous=True)
    with serve_tls(state, tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture
def client_pem(tmp_path: Path) -> tuple[Path, str]:
    """A PEM file holding a private key and its certificate, and the certificate alone."""
    cert = trustme.CA().issue_cert("autopatch-rollouts-client", key_type=trustme.KeyType.RSA)
    path = tmp_path / "client.pem"
    path.write_bytes(cert.private_key_pem.bytes() + cert.cert_chain_pems[0].bytes())
    return path, cert.cert_chain_pems[0].bytes().decode()


def provider(sim: RunningSimulator, **kwargs: object) -> MsalTokenProvider:
    options: dict[str, object] = {
        "authority": f"{sim.url}/contoso-tenant",
        "client_id": "msal-client",
        "ca_bundle": sim.tls.ca_pem,
    }
    options.update(kwargs)
    return MsalTokenProvider(**options)  # type: ignore[arg-type]


async def test_secret_token_over_tls_is_cached(tls_sim: RunningSimulator) -> None:
    tls_sim.state.clear_calls()
    tokens = provider(tls_sim, client_secret="msal-secret")
    first = await tokens.token()
    second = await tokens.token()
    assert first == second and first.count(".") == 2
    assert tls_sim.state.count("POST", TOKEN_PATH) == 1
    await tokens.invalidate()
    assert await tokens.token()
    assert tls_sim.state.count("POST", TOKEN_PATH) == 2


async def test_certificate_token_over_tls(
    tls_sim: RunningSimulator, client_pem: tuple[Path, str]
) -> None:
    path, cert_pem = client_pem
    tls_sim.state.register_certificate(cert_pem)
    try:
        tls_sim.state.clear_calls()
        tokens = provider(tls_sim, certificate_path=path)
        assert await tokens.token() == await tokens.token()
        calls = tls_sim.state.find("POST", TOKEN_PATH)
        assert [(c.status, c.body["credential"]) for c in calls] == [(200, "assertion")]
    finally:
        tls_sim.state.client_certificates.clear()


async def test_unregistered_certificate_is_refused(
    tls_sim: RunningSimulator, client_pem: tuple[Path, str]
) -> None:
    other_cert = trustme.CA().issue_cert("someone-else", key_type=trustme.KeyType.RSA)
    other = other_cert.cert_chain_pems[0].bytes().decode()
    tls_sim.state.register_certificate(other)
    try:
        with pytest.raises(GraphAuthError) as caught:
            await provider(tls_sim, certificate_path=client_pem[0]).token()
        assert caught.value.code == "invalid_client"
    finally:
        tls_sim.state.client_certificates.clear()


async def test_wrong_secret_is_a_clear_auth_error(tls_sim: RunningSimulator) -> None:
    with pytest.raises(GraphAuthError) as caught:
        await provider(tls_sim, client_secret="wrong-secret-value").token()
    error = caught.value
    assert error.code == "invalid_client"
    assert "could not obtain a Graph token" in error.message
    assert "AADSTS7000215" in error.message
    assert "wrong-secret-value" not in str(error) and "msal-secret" not in str(error)


async def test_untrusted_server_is_an_auth_error_not_a_crash(tls_sim: RunningSimulator) -> None:
    tokens = provider(tls_sim, client_secret="msal-secret", ca_bundle=None)
    with pytest.raises(GraphAuthError) as caught:
        await tokens.token()
    assert caught.value.code == "tokenEndpointUnreachable"


def test_bad_certificate_files_are_auth_errors(tmp_path: Path) -> None:
    only_cert = tmp_path / "only-cert.pem"
    only_cert.write_bytes(trustme.CA().cert_pem.bytes())
    with pytest.raises(GraphAuthError, match="private key and the certificate"):
        load_certificate_credential(only_cert)
    ec_cert = trustme.CA(key_type=trustme.KeyType.ECDSA).issue_cert("ec-client")
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(ec_cert.private_key_pem.bytes() + ec_cert.cert_chain_pems[0].bytes())
    with pytest.raises(GraphAuthError, match="RSA"):
        load_certificate_credential(ec_pem)


def test_scope_follows_the_national_cloud() -> None:
    assert scope_for("https://graph.microsoft.com/beta") == "https://graph.microsoft.com/.default"
    assert scope_for("https://graph.microsoft.us/beta") == "https://graph.microsoft.us/.default"
    assert (
        scope_for("https://dod-graph.microsoft.us/beta")
        == "https://dod-graph.microsoft.us/.default"
    )
    assert scope_for("https://127.0.0.1:8443/beta") == "https://graph.microsoft.com/.default"


async def test_live_factory_talks_to_the_simulator_over_tls(tls_sim: RunningSimulator) -> None:
    settings = Settings(
        graph_mode="live",
        graph_base_url=f"{tls_sim.url}/beta",
        graph_authority_host=tls_sim.url,
        graph_tenant_id="contoso-tenant",
        graph_client_id="msal-client",
        graph_client_secret="msal-secret",
        graph_ca_bundle=tls_sim.tls.ca_pem,
        api_keys=API_KEYS,
    )
    graph, close = build_graph_client(settings)
    try:
        tls_sim.state.clear_calls()
        features = await graph.list_catalog_entries("feature")
        audience = await graph.create_audience()
        assert features.value and audience.value.id
        assert tls_sim.state.count("POST", TOKEN_PATH) == 1
        assert [c.status for c in tls_sim.state.find() if c.is_graph] == [200, 201]
    finally:
        await close()


def test_the_token_session_pins_the_ca_bundle_and_still_honours_the_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GRAPH_CA_BUNDLE wins over REQUESTS_CA_BUNDLE, and HTTPS_PROXY / NO_PROXY still apply:
    a TLS-inspecting proxy is the usual reason to configure the bundle."""
    bundle = tmp_path / "proxy-ca.pem"
    bundle.write_text("not read here")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "other.pem"))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    session = requests_session(bundle)
    assert session is not None
    via_proxy = session.merge_environment_settings(
        "https://login.microsoftonline.com/t/oauth2/v2.0/token", {}, None, None, None
    )
    assert via_proxy["verify"] == str(bundle)
    assert via_proxy["proxies"]["https"] == "http://proxy.corp.example:3128"
    direct = session.merge_environment_settings("https://internal.example/x", {}, None, None, None)
    assert direct["verify"] == str(bundle)
    assert "https" not in direct["proxies"]
