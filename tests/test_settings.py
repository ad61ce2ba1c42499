"""Settings refuse unsafe combinations at start-up instead of failing on the first request."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from pydantic import ValidationError

from app.review.rules import parse_approvals
from app.settings import Settings, refusal_message
from tests.db_server import REPO

CONTRACT_ENV = (
    "API_KEYS",
    "AUTH_JWT_ISSUER",
    "AUTH_JWT_AUDIENCE",
    "AUTH_JWKS_URL",
    "AUTH_ROLES_CLAIM",
    "APPROVALS",
    "APPROVAL_TTL",
    "RATE_LIMIT_PER_MINUTE",
    "GRAPH_CONCURRENCY",
    "RUN_WORKER",
    "REQUIRE_TICKET",
    "ENROLLMENT_CONFIRM_SECONDS",
    "GRAPH_MODE",
)


@pytest.fixture(autouse=True)
def _contract_env_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment that sets none of the settings under test."""
    for name in CONTRACT_ENV:
        monkeypatch.delenv(name, raising=False)


def _refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    return refusal_message(refused.value)


def test_live_graph_without_credentials_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(graph_mode="live", graph_tenant_id="contoso")
    message = str(refused.value)
    assert "GRAPH_CLIENT_ID" in message
    assert "GRAPH_CLIENT_SECRET or GRAPH_CLIENT_CERTIFICATE_PATH" in message
    assert "GRAPH_TENANT_ID" not in message


LIVE_CALLER_AUTH = {"api_keys": "ci:admin:" + "0" * 64}


def test_live_graph_with_a_secret_is_accepted() -> None:
    settings = Settings(
        graph_mode="live",
        graph_tenant_id="contoso",
        graph_client_id="app",
        graph_client_secret="s3cret",
        **LIVE_CALLER_AUTH,  # type: ignore[arg-type]
    )
    assert settings.graph_base_url == "https://graph.microsoft.com/beta"
    assert settings.graph_max_ids_per_call == 200


def test_environment_variables_use_the_contract_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_MAX_IDS_PER_CALL", "150")
    monkeypatch.setenv("REQUIRE_TICKET", "true")
    monkeypatch.setenv("LOG_FORMAT", "console")
    monkeypatch.setenv("ENROLLMENT_CONFIRM_SECONDS", "90")
    settings = Settings()
    assert (settings.graph_max_ids_per_call, settings.require_ticket) == (150, True)
    assert settings.log_format == "console"
    assert settings.enrollment_confirm_seconds == 90


def test_enrollment_confirmation_waits_ten_minutes_unless_told_and_never_negative() -> None:
    assert Settings().enrollment_confirm_seconds == 600
    assert Settings(enrollment_confirm_seconds=0).enrollment_confirm_seconds == 0
    with pytest.raises(ValidationError):
        Settings(enrollment_confirm_seconds=-1)


def test_blank_caller_authentication_settings_configure_nothing_and_are_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_KEYS", "")
    monkeypatch.setenv("AUTH_JWT_ISSUER", " ")
    assert not Settings().caller_auth_configured


def test_approvals_are_parsed_into_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEYS", LIVE_CALLER_AUTH["api_keys"])
    monkeypatch.setenv("APPROVALS", " create, delete ,audience>100,release>5000")
    rules = Settings().approval_rules
    assert rules.requires("create") and rules.requires("delete")
    assert not rules.requires("pause") and not rules.requires("patch")
    assert not rules.requires("audience", 100) and rules.requires("audience", 101)
    assert not rules.requires("release", 5000) and rules.requires("release", 5001)
    assert Settings().approval_ttl_delta == timedelta(days=3)
    monkeypatch.setenv("APPROVAL_TTL", "PT12H")
    assert Settings().approval_ttl_delta == timedelta(hours=12)


def test_a_create_with_many_devices_counts_as_an_audience_change() -> None:
    rules = parse_approvals("audience>100")
    assert not rules.requires("create", 100) and rules.requires("create", 101)
    assert parse_approvals("audience").requires("create", 1)
    assert not parse_approvals("audience").requires("create", 0)
    assert not parse_approvals(None)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"APPROVALS": "create"}, "APPROVALS needs caller authentication"),
        ({"APPROVALS": "creat"}, "APPROVALS: 'creat' is not a change"),
        ({"APPROVALS": "pause>5"}, "only audience and release take >N"),
        ({"APPROVALS": "audience,audience>5"}, "named both always and above a number"),
        ({"APPROVAL_TTL": "P3D"}, "APPROVAL_TTL applies to APPROVALS only"),
        ({"APPROVALS": "create", "APPROVAL_TTL": "P1M"}, "APPROVAL_TTL: 'P1M' is not a duration"),
        ({"APPROVALS": "create", "APPROVAL_TTL": "PT0S"}, "APPROVAL_TTL: must be longer than"),
    ],
)
def test_approval_settings_that_cannot_take_effect_are_refused(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], expected: str
) -> None:
    if values.get("APPROVALS") != "create" or "APPROVAL_TTL" in values:
        monkeypatch.setenv("API_KEYS", LIVE_CALLER_AUTH["api_keys"])
    assert expected in _refusal(monkeypatch, **values)


def test_rate_limit_per_minute_is_read_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().rate_limit_per_minute == 600
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "0")  # no limit
    assert Settings().rate_limit_per_minute == 0
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "120")
    assert Settings().rate_limit_per_minute == 120
    assert "RATE_LIMIT_PER_MINUTE" in _refusal(monkeypatch, RATE_LIMIT_PER_MINUTE="-1")


def test_no_worker_in_the_api_process_is_refused_with_the_built_in_simulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = _refusal(monkeypatch, RUN_WORKER="false")
    assert "RUN_WORKER=false with GRAPH_MODE=simulator" in message
    assert "python -m app.simulator --tls" in message
    monkeypatch.setenv("RUN_WORKER", "true")
    assert Settings().run_worker is True
    credentials = {"graph_tenant_id": "t", "graph_client_id": "c", "graph_client_secret": "s"}
    monkeypatch.setenv("RUN_WORKER", "false")  # API replicas, with workers elsewhere
    live = Settings(graph_mode="live", **credentials, **LIVE_CALLER_AUTH)  # type: ignore[arg-type]
    assert live.run_worker is False


def test_graph_concurrency_is_read_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_CONCURRENCY", "8")
    assert Settings().graph_concurrency == 8
    assert "GRAPH_CONCURRENCY" in _refusal(monkeypatch, GRAPH_CONCURRENCY="0")


def test_every_refusal_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, API_KEYS="ci:operator:00", APPROVALS="creat", RUN_WORKER="0")
    assert "API_KEYS: entry 1 (ci)" in message
    assert "APPROVALS: 'creat'" in message
    assert "RUN_WORKER=false" in message


def test_the_refusal_is_one_line_and_never_shows_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_CLIENT_SECRET", "do-not-print-me")
    message = _refusal(monkeypatch, API_KEYS="ci:operator:feedface", GRAPH_MAX_IDS_PER_CALL="0")
    assert message.startswith("configuration refused: ")
    assert "GRAPH_MAX_IDS_PER_CALL: Input should be greater than or equal to 1" in message
    assert "\n" not in message
    assert "do-not-print-me" not in message
    assert "feedface" not in message


@pytest.mark.parametrize(
    ("mode", "env", "expected"),
    [
        ("live", {}, True),
        ("simulator", {}, False),
        ("live", {"REQUIRE_TICKET": "false"}, False),
        ("simulator", {"REQUIRE_TICKET": "true"}, True),
    ],
)
def test_a_ticket_is_required_against_the_real_graph_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, mode: str, env: dict[str, str], expected: bool
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    credentials = {"graph_tenant_id": "t", "graph_client_id": "c", "graph_client_secret": "s"}
    settings = Settings(graph_mode=mode, **credentials, **LIVE_CALLER_AUTH)  # type: ignore[arg-type]
    assert settings.require_ticket is expected


def test_serve_prints_the_refusal_on_one_line_and_exits_non_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "1"],
        cwd=REPO,
        env={**os.environ, "AUTH_JWT_ISSUER": "https://idp", "DATABASE_URL": "unused"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "configuration refused: AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and AUTH_JWKS_URL go"
        " together; set AUTH_JWT_AUDIENCE, AUTH_JWKS_URL"
    ]


def test_every_setting_is_documented_for_operators() -> None:
    documented = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    names = [name.upper() for name in Settings.model_fields]
    assert [name for name in names if f"`{name}`" not in documented] == []
