"""Service configuration from the environment (names are part of the public contract)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    api_keys: str | None = None
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: str | None = None
    auth_jwks_url: str | None = None
    auth_roles_claim: str = "roles"
    require_ticket: bool = False

    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["json", "console"] = "json"

    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

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

    @property
    def caller_auth_configured(self) -> bool:
        """True when API keys or the three bearer-token settings are set."""
        jwt = all((self.auth_jwt_issuer, self.auth_jwt_audience, self.auth_jwks_url))
        return bool(self.api_keys) or jwt


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
