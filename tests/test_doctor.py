"""`python -m app doctor` against the built-in simulator and real PostgreSQL, and the simulator
refusing like Graph when a token lacks the permission."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.doctor import run_doctor
from app.simulator.__main__ import parse_args
from app.simulator.app import create_simulator_app
from app.simulator.state import SimulatorState
from tests.auth.identity_provider import (
    AUDIENCE,
    ISSUER,
    IdentityProvider,
    ec_key,
    rsa_key,
    serving,
)
from tests.auth.keys import API_KEYS
from tests.conftest import make_settings
from tests.db_server import REPO, fresh_database
from tests.graph.tls_server import serve_tls

CHECKS = ["configuration", "callers", "database", "schema", "token", "permission", "catalog"]
READ_WRITE = "WindowsUpdates.ReadWrite.All"
READ = "WindowsUpdates.Read.All"
UNREACHABLE = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/nothing"
ROOT = "/beta/admin/windows/updates"


def _doctor(database_url: str, state: SimulatorState | None = None) -> tuple[int, dict[str, str]]:
    """Run doctor; its exit status and its lines by check name."""
    out = io.StringIO()
    status = run_doctor(make_settings(database_url), simulator_state=state, out=out)
    lines = out.getvalue().splitlines()
    return status, {line.split()[1]: line for line in lines}


def test_doctor_passes_against_the_simulator_on_a_migrated_database(clean_database: str) -> None:
    status, lines = _doctor(clean_database, SimulatorState())
    assert list(lines) == CHECKS
    assert [line.split()[0] for line in lines.values()] == ["ok"] * len(CHECKS)
    assert status == 0
    assert READ_WRITE in lines["permission"]
    assert "feature update entries read" in lines["catalog"]


def test_doctor_fails_naming_the_permission_when_the_token_carries_none(
    clean_database: str,
) -> None:
    status, lines = _doctor(clean_database, SimulatorState(granted_roles=[]))
    assert status == 1
    assert lines["token"].startswith("ok")
    assert lines["permission"].startswith("FAILED")
    assert f"lacks the application permission {READ_WRITE} (roles: none)" in lines["permission"]
    assert "Grant admin consent" in lines["permission"]
    assert lines["catalog"].startswith("FAILED")
    assert "HTTP 403 Forbidden" in lines["catalog"]
    assert "licence" in lines["catalog"]


def test_read_permission_reads_the_catalog_but_is_not_enough(clean_database: str) -> None:
    status, lines = _doctor(clean_database, SimulatorState(granted_roles=[READ]))
    assert status == 1
    assert lines["permission"].startswith("FAILED")
    assert f"(roles: {READ})" in lines["permission"]
    assert lines["catalog"].startswith("ok")


def test_doctor_names_the_connection_and_migrate_fix_when_the_database_is_unreachable() -> None:
    status, lines = _doctor(UNREACHABLE, SimulatorState())
    assert status == 1
    assert lines["database"].startswith("FAILED")
    assert "fix: check DATABASE_URL" in lines["database"]
    assert "python -m app migrate" in lines["database"]
    assert "hunter2" not in lines["database"]
    assert lines["schema"].startswith("skipped")
    assert lines["catalog"].startswith("ok")  # the other checks still run


def test_doctor_says_to_migrate_a_database_behind_head() -> None:
    with fresh_database() as url:  # created, never migrated
        status, lines = _doctor(url, SimulatorState())
    assert status == 1
    assert lines["database"].startswith("ok")
    assert lines["schema"].startswith("FAILED")
    assert "never migrated" in lines["schema"]
    assert "fix: run `python -m app migrate`" in lines["schema"]


def test_doctor_names_the_credentials_when_no_token_is_issued(clean_database: str) -> None:
    status, lines = _doctor(clean_database, SimulatorState(client_secret="not-what-is-sent"))
    assert status == 1
    assert lines["token"].startswith("FAILED")
    assert "AADSTS7000215" in lines["token"]
    assert "GRAPH_CLIENT_SECRET" in lines["token"]
    assert [lines["permission"].split()[0], lines["catalog"].split()[0]] == ["skipped"] * 2


def test_doctor_reports_a_refused_configuration_as_a_failed_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPROVALS", "create")
    out = io.StringIO()
    assert run_doctor(out=out) == 1
    (line,) = out.getvalue().splitlines()
    assert line.startswith("FAILED  configuration configuration refused: APPROVALS")


def test_python_m_app_doctor_prints_one_line_per_check_and_exits_0(clean_database: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "doctor"],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": clean_database, "GRAPH_MODE": "simulator"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["ok", name] for name in CHECKS
    ]


@pytest.mark.parametrize(("roles", "status"), [([READ_WRITE], 0), ([], 1)])
def test_doctor_in_live_mode_gets_its_token_through_msal(
    clean_database: str, tmp_path: Path, roles: list[str], status: int
) -> None:
    state = SimulatorState(client_id="app", client_secret="s", granted_roles=roles)
    with serve_tls(state, tmp_path) as sim:
        settings = make_settings(
            clean_database,
            graph_mode="live",
            graph_base_url=f"{sim.url}/beta",
            graph_authority_host=sim.url,
            graph_tenant_id="contoso",
            graph_client_id="app",
            graph_client_secret="s",
            graph_ca_bundle=sim.tls.ca_pem,
            api_keys=API_KEYS,
        )
        out = io.StringIO()
        assert run_doctor(settings, out=out) == status, out.getvalue()
    lines = out.getvalue().splitlines()
    assert "GRAPH_MODE=live: tenant contoso" in lines[0]
    assert "issued to app app in tenant contoso" in lines[4]
    assert lines[5].startswith("ok" if roles else "FAILED")


# -- the simulator grants configurable application permissions and refuses like Graph ---------


_TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "app",
    "client_secret": "s",
    "scope": "https://graph.microsoft.com/.default",
}


async def _graph_call(state: SimulatorState, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_simulator_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="https://graph.test") as http:
        token = (await http.post("/t/oauth2/v2.0/token", data=_TOKEN_FORM)).json()["access_token"]
        body = {} if method == "POST" else None
        headers = {"Authorization": f"Bearer {token}"}
        return await http.request(method, f"{ROOT}{path}", json=body, headers=headers)


@pytest.mark.parametrize(
    ("roles", "method", "path", "status"),
    [
        ([READ_WRITE], "POST", "/deploymentAudiences", 201),
        ([READ], "POST", "/deploymentAudiences", 403),
        ([READ], "GET", "/deployments", 200),
        ([], "GET", "/deployments", 403),
    ],
)
async def test_graph_routes_need_the_permission_the_token_carries(
    roles: list[str], method: str, path: str, status: int
) -> None:
    response = await _graph_call(SimulatorState(granted_roles=roles), method, path)
    assert response.status_code == status, response.text
    if status == 403:
        error = response.json()["error"]
        assert error["code"] == "Forbidden"
        assert READ_WRITE in error["message"]
        assert response.headers["request-id"] == error["innerError"]["request-id"]


async def test_granted_roles_are_configured_over_the_admin_api() -> None:
    state = SimulatorState()
    transport = httpx.ASGITransport(app=create_simulator_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="https://graph.test") as http:
        assert (await http.get("/_simulator/config")).json()["grantedRoles"] == [READ_WRITE]
        changed = await http.patch("/_simulator/config", json={"grantedRoles": [READ]})
        assert changed.json()["grantedRoles"] == [READ]
        refused = await http.patch("/_simulator/config", json={"grantedRoles": [1]})
        assert refused.status_code == 400
        await http.post("/_simulator/reset")
    assert state.granted_roles == [READ]  # configuration survives a reset


def test_the_standalone_simulator_takes_its_roles_from_the_command_line() -> None:
    assert parse_args([]).roles is None
    assert parse_args(["--roles", ""]).roles == []
    assert parse_args(["--roles", f"{READ}, {READ_WRITE}"]).roles == [READ, READ_WRITE]


def test_doctor_names_how_callers_authenticate_and_reads_the_signing_keys(
    clean_database: str,
) -> None:
    with serving(IdentityProvider(keys=[rsa_key("k1"), ec_key("k2")])) as provider:
        bearer = {
            "auth_jwt_issuer": ISSUER,
            "auth_jwt_audience": AUDIENCE,
            "auth_jwks_url": provider.url,
        }
        settings = make_settings(clean_database, api_keys=API_KEYS, **bearer)
        out = io.StringIO()
        assert run_doctor(settings, simulator_state=SimulatorState(), out=out) == 0
        callers = out.getvalue().splitlines()[1]
        assert callers.startswith("ok      callers")
        assert "1 API key(s) (tests: admin)" in callers
        assert f"bearer tokens from {ISSUER} for {AUDIENCE} (2 signing key(s)" in callers
        assert provider.fetches == 1
        provider.down = True
        out = io.StringIO()
        assert run_doctor(make_settings(clean_database, **bearer), out=out) == 1
    callers = out.getvalue().splitlines()[1]
    assert callers.startswith("FAILED  callers")
    assert "503" in callers and "fix: check AUTH_JWKS_URL" in callers


def test_doctor_says_when_the_service_is_open(clean_database: str) -> None:
    out = io.StringIO()
    run_doctor(make_settings(clean_database), simulator_state=SimulatorState(), out=out)
    assert "OPEN: every caller is anonymous with role admin" in out.getvalue().splitlines()[1]
