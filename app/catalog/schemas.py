"""Public API models of catalog entries."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.api_types import UtcOut


class FeatureUpdateOut(BaseModel):
    """A Windows feature update that deployments can deliver."""

    catalogEntryId: str = Field(examples=["d9049ddb-0ca8-4bc1-bd3c-41a456ef300f"])
    version: str | None = Field(examples=["Windows 11, version 22H2"])
    displayName: str | None = Field(examples=["Windows 11, version 22H2"])
    buildNumber: str | None = Field(examples=["22621"])
    releasedAt: UtcOut | None
    deployableUntil: UtcOut | None
    deployable: bool = Field(description="deployableUntil is in the future (or unset)")


class QualityUpdateOut(BaseModel):
    """A Windows quality update (monthly or out-of-band)."""

    catalogEntryId: str
    displayName: str | None
    shortName: str | None = Field(examples=["2026.11 B"])
    classification: str | None = Field(examples=["security"])
    cadence: str | None = Field(examples=["monthly"])
    isExpeditable: bool
    maxSeverity: str | None = Field(examples=["critical"])
    releasedAt: UtcOut | None
    deployableUntil: UtcOut | None
    deployable: bool
