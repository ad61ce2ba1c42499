"""Public API models of rollouts: what callers send and what they get back."""

from __future__ import annotations

from itertools import combinations
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.api_types import (
    CATALOG_ENTRY_ID_MAX_LENGTH,
    MAX_MONITORING_RULES,
    VERSION_MAX_LENGTH,
    DeviceIdList,
    IsoDuration,
    JsonInt,
    Name,
    Reason,
    StrictModel,
    Ticket,
    UtcOut,
    UtcTimestamp,
)
from app.operations.schemas import OperationOut

# The settings of api.md's example rollout, shared by the request and response examples.
PILOT_SETTINGS: dict[str, Any] = {
    "schedule": {
        "startAt": "2026-12-01T08:00:00Z",
        "waves": {"devicesPerWave": 100, "every": "P7D"},
    },
    "monitoring": [{"signal": "rollback", "thresholdPercent": 5, "action": "pause"}],
    "userExperience": {"offerAsOptional": False, "daysUntilForcedReboot": 2},
    "safeguards": {"enabled": True},
}

ROLLOUT_EXAMPLE: dict[str, Any] = {
    "id": "6f1c2a4e-8b3d-4f5a-9c7e-2d1b0a9f8e7d",
    "graphDeploymentId": "b5171742-1742-b517-4217-17b5421717b5",
    "name": "Windows 11 24H2 – pilot ring",
    "ticket": "CHG0012345",
    "update": {
        "kind": "feature",
        "catalogEntryId": "e0b6a4a8-8c7d-4c34-9b6c-2f0a1d3e5b24",
        "version": "Windows 11, version 24H2",
        "displayName": "Windows 11, version 24H2",
        "buildNumber": "26100",
    },
    **PILOT_SETTINGS,
    "state": {
        "effective": "offering",
        "requested": "none",
        "reasons": ["offeringByRequest"],
        "observedAt": "2026-12-01T08:05:00Z",
    },
    "audience": {"members": 1200, "exclusions": 3},
    "reason": "Quarterly OS upgrade, pilot",
    "createdAt": "2026-11-28T10:00:00Z",
    "createdBy": "svc-servicenow",
    "updatedAt": "2026-12-01T08:05:00Z",
}


def _given(field: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Schema: `field` is present and matches `schema` (by default: is not null)."""
    return {"required": [field], "properties": {field: schema or {"not": {"type": "null"}}}}


class FeatureUpdateRef(StrictModel):
    """A feature update, by `version` (resolved through the catalog) or `catalogEntryId`."""

    schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": [_given("version"), _given("catalogEntryId")]
    }

    kind: Literal["feature"]
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=VERSION_MAX_LENGTH,
        examples=["Windows 11, version 24H2"],
    )
    catalogEntryId: str | None = Field(
        default=None, min_length=1, max_length=CATALOG_ENTRY_ID_MAX_LENGTH
    )

    @model_validator(mode="after")
    def _exactly_one_reference(self) -> FeatureUpdateRef:
        if (self.version is None) == (self.catalogEntryId is None):
            raise ValueError("give exactly one of version and catalogEntryId")
        return self


class QualityUpdateRef(StrictModel):
    """A quality update by catalog entry id, optionally expedited."""

    schema_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"properties": {"readinessTest": {"const": False}}},
            _given("expedite", {"const": True}),
        ]
    }

    kind: Literal["quality"]
    catalogEntryId: str = Field(min_length=1, max_length=CATALOG_ENTRY_ID_MAX_LENGTH)
    expedite: StrictBool = Field(default=False, description="install as soon as possible")
    readinessTest: StrictBool = Field(
        default=False, description="an expedite readiness test only (needs expedite)"
    )

    @model_validator(mode="after")
    def _readiness_test_needs_expedite(self) -> QualityUpdateRef:
        if self.readinessTest and not self.expedite:
            raise ValueError("readinessTest needs expedite: true")
        return self


UpdateRef = Annotated[FeatureUpdateRef | QualityUpdateRef, Field(discriminator="kind")]

MAX_DEVICES_PER_WAVE = 1_000_000


class Waves(StrictModel):
    """Offer the update to `devicesPerWave` devices every `every`."""

    devicesPerWave: JsonInt = Field(ge=1, le=MAX_DEVICES_PER_WAVE, examples=[100])
    every: IsoDuration = "P1D"


PACINGS = ("waves", "endBy", "spreadOver")


class Schedule(StrictModel):
    """When to start, and how to spread the offers: at most one of waves, endBy, spreadOver."""

    schema_rules: ClassVar[dict[str, Any]] = {
        "not": {
            "anyOf": [
                {"allOf": [_given(first), _given(second)]}
                for first, second in combinations(PACINGS, 2)
            ]
        }
    }

    startAt: UtcTimestamp | None = Field(default=None, description="default: now")
    waves: Waves | None = None
    endBy: UtcTimestamp | None = Field(
        default=None, description="all devices offered by then (after startAt)"
    )
    spreadOver: IsoDuration | None = Field(default=None, description="offers spread over this")

    @model_validator(mode="after")
    def _one_pacing(self) -> Schedule:
        given = [n for n in PACINGS if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of waves, endBy and spreadOver, not {given}")
        if self.endBy is not None and self.startAt is not None and self.endBy <= self.startAt:
            raise ValueError("endBy must be after startAt")
        return self


VALID_RULES = (("rollback", "pause"), ("rollback", "alert"), ("ineligible", "offerFallback"))


class MonitoringRule(StrictModel):
    """When `signal` reaches `thresholdPercent` of devices, take `action`."""

    schema_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"properties": {"signal": {"const": signal}, "action": {"const": action}}}
            for signal, action in VALID_RULES
        ]
    }

    signal: Literal["rollback", "ineligible"]
    thresholdPercent: JsonInt = Field(ge=1, le=100, examples=[5])
    action: Literal["pause", "alert", "offerFallback"]

    @model_validator(mode="after")
    def _valid_pair(self) -> MonitoringRule:
        if (self.signal, self.action) not in VALID_RULES:
            raise ValueError(
                f"{self.signal} + {self.action} is not a valid rule; valid: rollback + pause,"
                " rollback + alert, ineligible + offerFallback"
            )
        return self


class UserExperience(StrictModel):
    """How the update is offered to the person at the device."""

    offerAsOptional: StrictBool | None = Field(default=None, description="optional, not required")
    daysUntilForcedReboot: JsonInt | None = Field(default=None, ge=0, le=30)


class Safeguards(StrictModel):
    """Microsoft's safeguard holds (the `likelyIssues` profile) apply unless disabled."""

    enabled: StrictBool = True


Monitoring = Annotated[list[MonitoringRule], Field(max_length=MAX_MONITORING_RULES)]


class RolloutSettings(StrictModel):
    """The parts of a rollout that can be changed later with PATCH."""

    schedule: Schedule | None = None
    monitoring: Monitoring | None = None
    userExperience: UserExperience | None = None
    safeguards: Safeguards = Field(default_factory=Safeguards)


class RolloutCreate(RolloutSettings):
    """A new rollout: one update to a set of devices, on a schedule, under a ticket."""

    name: Name
    ticket: Ticket | None = None
    reason: Reason | None = None
    update: UpdateRef
    devices: DeviceIdList = Field(default_factory=list)
    exclusions: DeviceIdList = Field(default_factory=list)


class WavesChange(Waves):
    """Waves in a merge patch: only the parts given change (devicesPerWave cannot be null)."""

    devicesPerWave: JsonInt = Field(  # type: ignore[assignment]
        default=None, ge=1, le=MAX_DEVICES_PER_WAVE, examples=[100]
    )


class ScheduleChange(Schedule):
    """A schedule in a merge patch: only the parts given change, null removes one."""

    waves: WavesChange | None = None


class RolloutPatch(StrictModel):
    """JSON merge patch (RFC 7396) of a rollout: only the fields given change; `null` removes
    a settings part. The same types and limits as at creation; `ticket` and `reason` say why."""

    name: Name = None  # type: ignore[assignment]  # absent: unchanged; null: refused
    schedule: ScheduleChange | None = None
    monitoring: Monitoring | None = None
    userExperience: UserExperience | None = None
    safeguards: Safeguards | None = None
    ticket: Ticket | None = None
    reason: Reason | None = None
    update: SkipJsonSchema[Any] = Field(default=None, exclude=True)
    """Never accepted (422 `urn:problem:update-immutable`); declared only to say so."""

    def changes(self) -> dict[str, Any]:
        """The merge patch of name and settings, as JSON, with only the fields given."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={"ticket", "reason"})


class ChangeRequest(StrictModel):
    """Body of pause / resume / archive: who may ask is the caller; these say why."""

    ticket: Ticket | None = None
    reason: Reason | None = None


class ArchiveRequest(ChangeRequest):
    """Body of archive: why, and whether to release the devices that would stay held."""

    releaseDevices: StrictBool = Field(
        default=False,
        description="also release (unenroll) the rollout's members that are in no other active"
        " rollout of the category; otherwise `warnings` says how many stay held",
    )


class RolloutWarning(BaseModel):
    """Something the caller should know about a change that succeeded."""

    code: Literal["devicesHeld"] = Field(examples=["devicesHeld"])
    message: str
    count: int = Field(description="how many devices it concerns")


class UpdateOut(BaseModel):
    """The update a rollout delivers, as resolved from the catalog."""

    kind: Literal["feature", "quality"]
    catalogEntryId: str
    version: str | None = None
    displayName: str | None = None
    buildNumber: str | None = None
    expedite: bool | None = None
    readinessTest: bool | None = None


class StateOut(BaseModel):
    """The deployment state as Graph reports it (or our own: creating, failed, deleted)."""

    effective: str = Field(
        description="scheduled, offering, paused, faulted, archived — or creating, failed, deleted",
        examples=["offering"],
    )
    requested: str | None = Field(default=None, examples=["none"])
    reasons: list[str] = Field(default_factory=list, examples=[["offeringByRequest"]])
    observedAt: UtcOut | None = Field(default=None, description="when Graph reported it")


class AudienceCounts(BaseModel):
    """How many devices the service has confirmed as members and as exclusions."""

    members: int
    exclusions: int


class RolloutOut(BaseModel):
    """A rollout: a Graph deployment plus its name, ticket, creator and settings."""

    model_config = ConfigDict(json_schema_extra={"examples": [ROLLOUT_EXAMPLE]})

    id: str
    graphDeploymentId: str | None
    name: str
    ticket: str | None
    update: UpdateOut
    schedule: dict[str, Any] | None
    monitoring: list[dict[str, Any]] | None
    userExperience: dict[str, Any] | None
    safeguards: dict[str, Any]
    state: StateOut
    audience: AudienceCounts
    reason: str | None = Field(description="why it was created, as the creator said")
    createdAt: UtcOut
    createdBy: str
    updatedAt: UtcOut
    audienceOperation: OperationOut | None = Field(
        default=None, description="the operation applying the devices given at creation"
    )
    releaseOperation: OperationOut | None = Field(
        default=None,
        description="archive / delete with `releaseDevices`: the operation releasing the"
        " rollout's members that are in no other active rollout of the category",
    )
    warnings: list[RolloutWarning] = Field(
        default_factory=list,
        description="archive / delete without `releaseDevices`: how many devices stay held",
    )
