"""Caller-authentication settings: complete or refused, and never open against the real Graph."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.auth.api_keys import ApiKeyVerifier, key_digest, new_api_key, parse_api_keys
from app.auth.roles import Role
from app.settings import Settings, refusal_message

LIVE = {
    "graph_mode": "live",
    "graph_tenant_id": "contoso",
    "graph_client_id": "app",
    "graph_client_secret": "s3cret",
}
DIGEST = "ab" * 32


def _refused(**values: object) -> str:
    with pytest.raises(ValidationError) as refused:
        Settings(**values)  # type: ignore[arg-type]
    return refusal_message(refused.value)


def test_the_real_graph_without_caller_authentication_is_refused() -> None:
    message = _refused(**LIVE)
    assert "GRAPH_MODE=live needs caller authentication" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    "auth",
    [
        {"api_keys": f"svc:admin:{DIGEST}"},
        {
            "auth_jwt_issuer": "https://login.example.test/t/v2.0",
            "auth_jwt_audience": "api://autopatch",
            "auth_jwks_url": "https://login.example.test/t/discovery/v2.0/keys",
        },
    ],
)
def test_the_real_graph_with_caller_authentication_starts(auth: dict[str, str]) -> None:
    assert Settings(**LIVE, **auth).caller_auth_configured  # type: ignore[arg-type]


def test_bearer_settings_go_together() -> None:
    message = _refused(auth_jwt_issuer="https://idp", auth_jwt_audience="api")
    assert "go together; set AUTH_JWKS_URL" in message


def test_the_jwks_url_must_be_https_except_on_loopback() -> None:
    bearer = {"auth_jwt_issuer": "https://idp", "auth_jwt_audience": "api"}
    assert "AUTH_JWKS_URL must be an https URL" in _refused(
        **bearer, auth_jwks_url="http://idp.example.test/keys"
    )
    assert Settings(**bearer, auth_jwks_url="http://127.0.0.1:8081/keys").caller_auth_configured


@pytest.mark.parametrize("name", ["auth_roles_claim", "auth_ca_bundle"])
def test_bearer_only_settings_without_bearer_tokens_are_refused(name: str) -> None:
    message = _refused(**{name: "roles2"}, api_keys=f"svc:admin:{DIGEST}")
    assert f"{name.upper()} applies to bearer tokens only" in message


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("svc:admin", "entry 1 is not name:role:sha256-hex"),
        (f"svc:root:{DIGEST}", "entry 1 (svc): role must be one of reader, operator"),
        ("svc:admin:the-key-itself", "entry 1 (svc): the third part must be the key's SHA-256"),
        (f"svc:admin:{DIGEST},svc:reader:{'cd' * 32}", "entry 2: the name svc is used twice"),
        (f"a:admin:{DIGEST},b:reader:{DIGEST}", "two entries have the same key hash"),
        (f"bad name:admin:{DIGEST}", "entry 1: the name must be"),
        (",", "it names no key"),
    ],
)
def test_malformed_api_keys_are_refused_without_echoing_them(entry: str, reason: str) -> None:
    message = _refused(api_keys=entry)
    assert f"API_KEYS: {reason}" in message
    assert DIGEST not in message
    assert "the-key-itself" not in message


def test_a_new_api_key_verifies_against_its_entry_and_no_other() -> None:
    key, entry = new_api_key("svc-servicenow", "operator")
    assert entry == f"svc-servicenow:operator:{key_digest(key)}"
    assert len(key) >= 43  # 256 random bits
    verifier = ApiKeyVerifier(parse_api_keys(f"other:admin:{DIGEST},{entry}"))
    principal = verifier.principal(key)
    assert principal is not None
    assert (principal.name, principal.role, principal.via) == (
        "svc-servicenow",
        Role.operator,
        "apiKey",
    )
    assert verifier.principal(key[:-1]) is None
    assert verifier.principal("") is None
