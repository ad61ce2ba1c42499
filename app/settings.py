"""Service configuration from the environment (names are part of the public contract)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.auth.api_keys import ApiKeyConfigError, parse_api_keys
from app.review.rules import ApprovalConfigError, ApprovalRules, parse_approvals, parse_ttl


class Settings(BaseSettings):
    """Every knob of the service; see the README's configuration table."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str | None = Field(
        default=None,
        description="postgresql+psycopg://…; unset: embedded PostgreSQL under DATA_DIR",
    )
    data_dir: Path = Field(default=Path(".data"), description="where embedded PostgreSQL lives")

    graph_mode: Literal["simulator", "live"] = "simulator"
    graph_base_url: str = "https://graph.microsoft.com/beta"
    graph_authority_host: str = "https://login.microsoftonline.com"
    graph_tenant_id: str | None = None
    graph_client_id: str | None = None
    graph_client_secret: str | None = None
    graph_client_certificate_path: Path | None = None
    graph_ca_bundle: Path | None = None
    graph_max_ids_per_call: int = Field(default=200, ge=1, le=10_000)
    graph_timeout_seconds: float = Field(default=30.0, gt=0)
    graph_max_attempts: int = Field(default=5, ge=1, le=20)
    graph_max_retry_wait_seconds: float = Field(default=60.0, ge=0)

    catalog_cache_seconds: float = Field(default=60.0, ge=0)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)
    reconcile_after_seconds: float = Field(default=300.0, ge=0)

    # Caller authentication (app/auth): API keys as name:role:sha256-hex, and bearer JWTs.
    api_keys: str | None = None
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: str | None = None
    auth_jwks_url: str | None = None
    auth_roles_claim: str = "roles"
    auth_ca_bundle: Path | None = Field(
        default=None, description="extra CA to trust for AUTH_JWKS_URL (an internal IdP)"
    )
    require_ticket: bool = Field(
        default=False, description="default: true when GRAPH_MODE=live, else false"
    )
    enrollment_confirm_seconds: float = Field(default=600.0, ge=0)

    approvals: str | None = Field(
        default=None, description="changes that need a second person: create,audience>100,…"
    )
    approval_ttl: str | None = Field(
        default=None, description="how long a proposed change waits for approval (P3D)"
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=0, le=1_000_000, description="requests per caller per minute; 0: no limit"
    )
    graph_concurrency: int = Field(default=4, ge=1, le=64)
    run_worker: bool = True
    worker_metrics_port: int = Field(
        default=9102, ge=0, le=65535, description="python -m app worker's /metrics port; 0: none"
    )

    # OpenTelemetry tracing (OTLP over HTTP), off unless the collector's endpoint is set.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "autopatch-rollouts"

    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["json", "console"] = "json"

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    @field_validator(
        "api_keys", "auth_jwt_issuer", "auth_jwt_audience", "auth_jwks_url", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """A blank value configures nothing (deployment templates often render empty strings)."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _live_needs_credentials(self) -> Settings:
        if self.graph_mode == "live":
            missing = [
                name
                for name, value in (
                    ("GRAPH_TENANT_ID", self.graph_tenant_id),
                    ("GRAPH_CLIENT_ID", self.graph_client_id),
                )
                if not value
            ]
            if not (self.graph_client_secret or self.graph_client_certificate_path):
                missing.append("GRAPH_CLIENT_SECRET or GRAPH_CLIENT_CERTIFICATE_PATH")
            if missing:
                raise ValueError("GRAPH_MODE=live needs " + ", ".join(missing))
        return self

    @model_validator(mode="after")
    def _refuse_what_cannot_be_honoured(self) -> Settings:
        """Incomplete caller authentication, an open service against the real Graph, and a
        setting the service would ignore are refused, all reasons at once."""
        reasons = caller_auth_reasons(self) + approval_reasons(self) + unbuilt_setting_reasons(self)
        if reasons:
            raise ValueError("; ".join(reasons))
        return self

    @model_validator(mode="after")
    def _ticket_required_against_live_graph(self) -> Settings:
        if "require_ticket" not in self.model_fields_set:
            self.require_ticket = self.graph_mode == "live"
        return self

    @cached_property
    def approval_rules(self) -> ApprovalRules:
        """APPROVALS, parsed once (validated at start-up)."""
        return parse_approvals(self.approvals)

    @property
    def approval_ttl_delta(self) -> timedelta:
        """APPROVAL_TTL (default P3D), parsed (validated at start-up)."""
        return parse_ttl(self.approval_ttl)

    @property
    def caller_auth_configured(self) -> bool:
        """True when API keys or the three bearer-token settings are set."""
        jwt = all((self.auth_jwt_issuer, self.auth_jwt_audience, self.auth_jwks_url))
        return bool(self.api_keys) or jwt


JWT_SETTINGS = ("AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE", "AUTH_JWKS_URL")
JWT_ONLY_SETTINGS = ("AUTH_ROLES_CLAIM", "AUTH_CA_BUNDLE")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def _given(settings: Settings, names: Iterable[str]) -> list[str]:
    """The environment names among `names` that were set to something not blank."""
    return [
        env
        for env in names
        if env.lower() in settings.model_fields_set
        and str(getattr(settings, env.lower()) or "").strip()
    ]


def caller_auth_reasons(settings: Settings) -> list[str]:
    """Why the caller-authentication settings are refused, if they are, and what to do."""
    reasons = []
    jwt = _given(settings, JWT_SETTINGS)
    if jwt and len(jwt) < len(JWT_SETTINGS):
        missing = [name for name in JWT_SETTINGS if name not in jwt]
        reasons.append(
            "AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE and AUTH_JWKS_URL go together; set "
            + ", ".join(missing)
        )
    elif jwt:
        url = urlsplit(str(settings.auth_jwks_url))
        if url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOOPBACK_HOSTS):
            reasons.append("AUTH_JWKS_URL must be an https URL (http only on loopback)")
    else:
        for name in _given(settings, JWT_ONLY_SETTINGS):
            reasons.append(f"{name} applies to bearer tokens only; set the AUTH_JWT_* settings")
    if settings.api_keys is not None:
        try:
            parse_api_keys(settings.api_keys)
        except ApiKeyConfigError as exc:
            reasons.append(f"API_KEYS: {exc}")
    if settings.graph_mode == "live" and not settings.caller_auth_configured:
        reasons.append(
            "GRAPH_MODE=live needs caller authentication: set API_KEYS, or AUTH_JWT_ISSUER,"
            " AUTH_JWT_AUDIENCE and AUTH_JWKS_URL (an open service would let anyone who can"
            " reach it change every enrolled PC)"
        )
    return reasons


def approval_reasons(settings: Settings) -> list[str]:
    """Why APPROVALS / APPROVAL_TTL are refused, if they are, and what to do."""
    reasons = []
    try:
        rules = parse_approvals(settings.approvals)
    except ApprovalConfigError as exc:
        return [f"APPROVALS: {exc}"]
    try:
        parse_ttl(settings.approval_ttl)
    except ApprovalConfigError as exc:
        reasons.append(f"APPROVAL_TTL: {exc}")
    if rules and not settings.caller_auth_configured:
        reasons.append(
            "APPROVALS needs caller authentication (API_KEYS or AUTH_JWT_*): without it every"
            " caller is anonymous, and nobody could approve another caller's change"
        )
    if not rules and _given(settings, ["APPROVAL_TTL"]):
        reasons.append("APPROVAL_TTL applies to APPROVALS only; set APPROVALS or unset it")
    return reasons


def unbuilt_setting_reasons(settings: Settings) -> list[str]:
    """Why a setting the service could not honour in this combination is refused."""
    reasons = []
    if not settings.run_worker and settings.graph_mode == "simulator":
        reasons.append(
            "RUN_WORKER=false with GRAPH_MODE=simulator: the built-in simulator lives inside the"
            " API process, where no separate worker can reach it; keep RUN_WORKER=true, or run"
            " the simulator on its own (python -m app.simulator --tls) and use GRAPH_MODE=live"
        )
    return reasons


def refusal_message(error: ValidationError) -> str:
    """One line saying why the environment was refused, naming variables, never their values."""
    parts = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        names = [str(part).upper() for part in item["loc"]]
        parts.append(f"{'.'.join(names)}: {message}" if names else message)
    return "configuration refused: " + "; ".join(parts)


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
