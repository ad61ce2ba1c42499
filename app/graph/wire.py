"""Pydantic models of Graph's response shapes: tolerant readers (unknown fields kept, not fatal).

Enum-like fields are plain strings: with `Prefer: include-unknown-enum-members` Graph can send
values newer than this code (e.g. `faultedByContentOutdated`), and reading must not break on them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

NS = "#microsoft.graph.windowsUpdates."


class GraphModel(BaseModel):
    """Base for Graph shapes: camelCase aliases, populate by name or alias, extra fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


class Entity(GraphModel):
    """Anything with an id and an `@odata.type`."""

    id: str
    odata_type: str | None = Field(default=None, alias="@odata.type")


class CveSeverityInformation(GraphModel):
    """CVE summary of a quality update."""

    max_severity: str | None = None
    max_base_score: float | None = None
    exploited_cves: list[dict[str, Any]] = Field(default_factory=list)


class CatalogEntry(Entity):
    """Base catalog entry."""

    display_name: str | None = None
    release_date_time: datetime | None = None
    deployable_until_date_time: datetime | None = None


class FeatureUpdateCatalogEntry(CatalogEntry):
    """A Windows feature update (e.g. "Windows 11, version 24H2")."""

    version: str | None = None
    build_number: str | None = None


class QualityUpdateCatalogEntry(CatalogEntry):
    """A Windows quality (monthly / out-of-band) update."""

    short_name: str | None = None
    catalog_name: str | None = None
    is_expeditable: bool | None = None
    quality_update_classification: str | None = None
    quality_update_cadence: str | None = None
    cve_severity_information: CveSeverityInformation | None = None


class StateReason(GraphModel):
    """One reason for a deployment's effective state."""

    value: str


class DeploymentState(GraphModel):
    """A deployment's state; reads `effectiveValue` or the `value` of Microsoft's example."""

    effective_value: str | None = Field(
        default=None, validation_alias=AliasChoices("effectiveValue", "value", "effective_value")
    )
    requested_value: str | None = None
    reasons: list[StateReason] = Field(default_factory=list)


class CatalogEntryRef(Entity):
    """The catalog entry a deployment's content points at."""


class DeployableContent(GraphModel):
    """A deployment's content (catalogContent holds a catalogEntry)."""

    odata_type: str | None = Field(default=None, alias="@odata.type")
    catalog_entry: CatalogEntryRef | None = None


class AudienceRef(GraphModel):
    """A deployment's audience as expanded or returned (id only is what we rely on)."""

    id: str | None = None


class Deployment(Entity):
    """A deployment as Graph returns it; `settings` stays a plain dict as Graph sent it."""

    content: DeployableContent | None = None
    state: DeploymentState | None = None
    settings: dict[str, Any] | None = None
    created_date_time: datetime | None = None
    last_modified_date_time: datetime | None = None
    audience: AudienceRef | None = None


class DeploymentAudience(Entity):
    """A deployment audience (POST /deploymentAudiences returns one)."""


class CategoryEnrollment(GraphModel):
    """Enrollment of a device in one update category."""

    enrollment_state: str | None = None
    last_modified_date_time: datetime | None = None


class Enrollment(GraphModel):
    """The newer per-category enrollment object."""

    feature: CategoryEnrollment | None = None
    quality: CategoryEnrollment | None = None
    driver: CategoryEnrollment | None = None


class LegacyEnrollment(GraphModel):
    """An element of the older `enrollments: [{updateCategory}]` shape."""

    update_category: str


class RegistrationError(GraphModel):
    """An azureADDeviceRegistrationError (e.g. `invalidAzureADDeviceId`)."""

    odata_type: str | None = Field(default=None, alias="@odata.type")
    reason: str | None = None


class UpdatableAsset(Entity):
    """A member or exclusion of an audience: a device or a group."""


class AzureADDevice(UpdatableAsset):
    """An Entra device known to the deployment service, with enrollment and errors."""

    enrollment: Enrollment | None = None
    enrollments: list[LegacyEnrollment] | None = None
    errors: list[RegistrationError] = Field(default_factory=list)

    def enrollment_state(self, category: str) -> str | None:
        """`enrolled`, `enrolling`, … for a category from either shape; None if Graph is silent."""
        if self.enrollment is not None:
            entry = getattr(self.enrollment, category, None)
            if isinstance(entry, CategoryEnrollment) and entry.enrollment_state:
                return entry.enrollment_state
            if self.enrollments is None:
                return "notEnrolled"
        if self.enrollments is not None:
            listed = {e.update_category for e in self.enrollments}
            return "enrolled" if category in listed else "notEnrolled"
        return None

    @property
    def error_reasons(self) -> list[str]:
        """The registration error reasons, in Graph's order."""
        return [e.reason for e in self.errors if e.reason]


CATEGORIES = ("feature", "quality", "driver")


@dataclass(frozen=True, slots=True)
class AssetState:
    """What reading a device back needs of it: enrollment per category and registration
    errors, without the rest of Graph's body (100,000 of them fit in a few megabytes)."""

    enrollment: tuple[str | None, ...]  # by CATEGORIES
    errors: tuple[str, ...]

    @classmethod
    def of(cls, asset: UpdatableAsset) -> AssetState:
        """The state of a listed asset (a group or unknown type has none)."""
        if not isinstance(asset, AzureADDevice):
            return cls((None, None, None), ())
        return cls(
            tuple(sys.intern(s) if s else None for s in map(asset.enrollment_state, CATEGORIES)),
            tuple(asset.error_reasons),
        )

    @classmethod
    def of_body(cls, data: Any) -> tuple[str, AssetState]:
        """The id and state of a listed asset's JSON body: `of(parse_asset(data))`, read
        straight from the dict when it is a device in Graph's usual shape (a read-back goes
        through every member of an audience, and building each model cost three times as much
        as the JSON parsing). Fields the state does not use are not validated; any other body
        goes through the models, which reject what they always rejected."""
        read = _device_state(data)
        if read is not None:
            return read
        asset = parse_asset(data)
        return asset.id, cls.of(asset)

    def enrollment_state(self, category: str) -> str | None:
        """`enrolled`, `enrolling`, … for a category; None if Graph said nothing of it."""
        return self.enrollment[CATEGORIES.index(category)] if category in CATEGORIES else None


_DEVICE_TYPES = (NS + "azureADDevice", "microsoft.graph.windowsUpdates.azureADDevice")
"""The spellings of a device's `@odata.type` (with and without `#`); a body without one is a
device too."""


def _device_state(data: Any) -> tuple[str, AssetState] | None:
    """AssetState.of_body's reading of a device body in the shape Graph sends (camelCase keys,
    strings where strings belong); None for anything else, left to the models."""
    if not isinstance(data, dict) or data.get("@odata.type", _DEVICE_TYPES[0]) not in _DEVICE_TYPES:
        return None
    device_id, enrollment = data.get("id"), data.get("enrollment")
    legacy, errors = data.get("enrollments"), data.get("errors", [])
    if not isinstance(device_id, str) or not isinstance(errors, list):
        return None
    states = _enrollment_states(enrollment, legacy)
    reasons = _reasons(errors)
    if states is None or reasons is None:
        return None
    return device_id, AssetState(states, reasons)


def _enrollment_states(enrollment: Any, legacy: Any) -> tuple[str | None, ...] | None:
    """By CATEGORIES, as AzureADDevice.enrollment_state reads either shape; None if a shape
    is not the plain one."""
    listed: set[str] | None = None
    if legacy is not None:
        if not isinstance(legacy, list):
            return None
        listed = set()
        for entry in legacy:
            category = _plain(entry, "updateCategory", "update_category")
            if not isinstance(category, str):
                return None
            listed.add(category)
    if enrollment is None:
        if listed is None:
            return (None, None, None)
        return tuple("enrolled" if c in listed else "notEnrolled" for c in CATEGORIES)
    if not isinstance(enrollment, dict):
        return None
    states: list[str | None] = []
    for category in CATEGORIES:
        entry = enrollment.get(category)
        state = None if entry is None else _plain(entry, "enrollmentState", "enrollment_state")
        if state is _NOT_PLAIN or not (state is None or isinstance(state, str)):
            return None
        if not state:
            state = "notEnrolled" if listed is None or category not in listed else "enrolled"
        states.append(sys.intern(state))
    return tuple(states)


def _reasons(errors: list[Any]) -> tuple[str, ...] | None:
    """The registration errors' reasons, in Graph's order; None if one is not plain."""
    reasons: list[str] = []
    for error in errors:
        reason = _plain(error, "reason", "reason")
        if reason is _NOT_PLAIN or not (reason is None or isinstance(reason, str)):
            return None
        if reason:
            reasons.append(reason)
    return tuple(reasons)


_NOT_PLAIN = object()


def _plain(entry: Any, key: str, snake_key: str) -> Any:
    """`entry[key]` (None when absent) if `entry` is a dict without the snake_case spelling
    the models would also read; _NOT_PLAIN otherwise."""
    if not isinstance(entry, dict) or (snake_key != key and snake_key in entry):
        return _NOT_PLAIN
    return entry.get(key)


def parse_asset(data: dict[str, Any]) -> UpdatableAsset:
    """An azureADDevice or, for any other type (e.g. a group), the generic asset."""
    if data.get("@odata.type", _DEVICE_TYPES[0]) in _DEVICE_TYPES:
        return AzureADDevice.model_validate(data)
    return UpdatableAsset.model_validate(data)
