"""Public API models of rollouts: what callers send and what they get back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from app.api_types import (
    DeviceIdList,
    IsoDuration,
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
    "createdAt": "2026-11-28T10:00:00Z",
    "createdBy": "svc-servicenow",
    "updatedAt": "2026-12-01T08:05:00Z",
}

RolloutName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(examples=["Windows 11 24H2 – pilot ring"]),
]


class FeatureUpdateRef(StrictModel):
    """A feature update, by `version` (resolved through the catalog) or `catalogEntryId`."""

    kind: Literal["feature"]
    version: str | None = Field(default=None, max_length=200, examples=["Windows 11, version 24H2"])
    catalogEntryId: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _exactly_one_reference(self) -> FeatureUpdateRef:
        if (self.version is None) == (self.catalogEntryId is None):
            raise ValueError("give exactly one of version and catalogEntryId")
        return self


class QualityUpdateRef(StrictModel):
    """A quality update by catalog entry id, optionally expedited."""

    kind: Literal["quality"]
    catalogEntryId: str = Field(max_length=128)
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


class Waves(StrictModel):
    """Offer the update to `devicesPerWave` devices every `every`."""

    devicesPerWave: StrictInt = Field(ge=1, le=1_000_000, examples=[100])
    every: IsoDuration = "P1D"


class Schedule(StrictModel):
    """When to start, and how to spread the offers: at most one of waves, endBy, spreadOver."""

    startAt: UtcTimestamp | None = Field(default=None, description="default: now")
    waves: Waves | None = None
    endBy: UtcTimestamp | None = Field(default=None, description="all devices offered by then")
    spreadOver: IsoDuration | None = Field(default=None, description="offers spread over this")

    @model_validator(mode="after")
    def _one_pacing(self) -> Schedule:
        given = [n for n in ("waves", "endBy", "spreadOver") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of waves, endBy and spreadOver, not {given}")
        if self.endBy is not None and self.startAt is not None and self.endBy <= self.startAt:
            raise ValueError("endBy must be after startAt")
        return self


class MonitoringRule(StrictModel):
    """When `signal` reaches `thresholdPercent` of devices, take `action`."""

    signal: Literal["rollback", "ineligible"]
    thresholdPercent: StrictInt = Field(ge=1, le=100, examples=[5])
    action: Literal["pause", "alert", "offerFallback"]

    @model_validator(mode="after")
    def _valid_pair(self) -> MonitoringRule:
        valid = {("rollback", "pause"), ("rollback", "alert"), ("ineligible", "offerFallback")}
        if (self.signal, self.action) not in valid:
            raise ValueError(
                f"{self.signal} + {self.action} is not a valid rule; valid: rollback + pause,"
                " rollback + alert, ineligible + offerFallback"
            )
        return self


class UserExperience(StrictModel):
    """How the update is offered to the person at the device."""

    offerAsOptional: StrictBool | None = Field(default=None, description="optional, not required")
    daysUntilForcedReboot: StrictInt | None = Field(default=None, ge=0, le=30)


class Safeguards(StrictModel):
    """Microsoft's safeguard holds (the `likelyIssues` profile) apply unless disabled."""

    enabled: StrictBool = True


Monitoring = Annotated[list[MonitoringRule], Field(max_length=10)]


class RolloutSettings(StrictModel):
    """The parts of a rollout that can be changed later with PATCH."""

    schedule: Schedule | None = None
    monitoring: Monitoring | None = None
    userExperience: UserExperience | None = None
    safeguards: Safeguards = Field(default_factory=Safeguards)


class RolloutCreate(RolloutSettings):
    """A new rollout: one update to a set of devices, on a schedule, under a ticket."""

    name: RolloutName
    ticket: Ticket | None = None
    reason: Reason | None = None
    update: UpdateRef
    devices: DeviceIdList = Field(default_factory=list)
    exclusions: DeviceIdList = Field(default_factory=list)


class ChangeRequest(StrictModel):
    """Body of pause / resume / archive: who may ask is the caller; these say why."""

    ticket: Ticket | None = None
    reason: Reason | None = None


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
    createdAt: UtcOut
    createdBy: str
    updatedAt: UtcOut
    audienceOperation: OperationOut | None = Field(
        default=None, description="the operation applying the devices given at creation"
    )
