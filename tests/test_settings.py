"""Settings refuse unsafe combinations at start-up instead of failing on the first request."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings


def test_live_graph_without_credentials_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(graph_mode="live", graph_tenant_id="contoso")
    message = str(refused.value)
    assert "GRAPH_CLIENT_ID" in message
    assert "GRAPH_CLIENT_SECRET or GRAPH_CLIENT_CERTIFICATE_PATH" in message
    assert "GRAPH_TENANT_ID" not in message


def test_live_graph_with_a_secret_is_accepted() -> None:
    settings = Settings(
        graph_mode="live",
        graph_tenant_id="contoso",
        graph_client_id="app",
        graph_client_secret="s3cret",
    )
    assert settings.graph_base_url == "https://graph.microsoft.com/beta"
    assert settings.graph_max_ids_per_call == 200


def test_environment_variables_use_the_contract_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_MAX_IDS_PER_CALL", "150")
    monkeypatch.setenv("REQUIRE_TICKET", "true")
    monkeypatch.setenv("LOG_FORMAT", "console")
    settings = Settings()
    assert (settings.graph_max_ids_per_call, settings.require_ticket) == (150, True)
    assert settings.log_format == "console"


def test_caller_authentication_counts_as_configured_only_when_complete() -> None:
    assert not Settings(
        auth_jwt_issuer="https://idp", auth_jwt_audience="api"
    ).caller_auth_configured
    assert Settings(api_keys="ci:operator:" + "0" * 64).caller_auth_configured
