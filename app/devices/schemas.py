"""Public API model of one device: what Graph knows of it, and our rollouts it is in."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api_types import DeviceIdList, Reason, StrictModel, Ticket, UtcOut

_STATES = "`notEnrolled`, `enrolling`, `enrolled`, `enrolledWithPolicy` or `unenrolling`"

_EXAMPLE: dict[str, Any] = {
    "deviceId": "ffff3f5e-54f1-4b1d-9d7e-3c8f2a1b6c01",
    "registered": True,
    "enrollment": {"feature": "enrolling", "quality": "notEnrolled", "driver": "notEnrolled"},
    "errors": [
        {
            "reason": "invalidAzureADJoin",
            "hint": "The device must be Microsoft Entra joined or Microsoft Entra hybrid joined; …",
        }
    ],
    "rollouts": [
        {
            "rolloutId": "5d0c7a2e-8f3b-4c51-9a0e-2b7d6f1e4c38",
            "name": "Windows 11 24H2 – pilot ring",
            "membership": "member",
            "state": "offering",
        }
    ],
}


class EnrollmentOut(BaseModel):
    """The device's enrollment in update management, per update category."""

    feature: str = Field(description=_STATES, examples=["enrolled"])
    quality: str = Field(description=_STATES, examples=["notEnrolled"])
    driver: str = Field(description=_STATES, examples=["notEnrolled"])


class RegistrationErrorOut(BaseModel):
    """A registration problem Graph reports for the device, and what to do about it."""

    reason: str = Field(
        description="Graph's azureADDeviceRegistrationError reason: invalidAzureADJoin,"
        " invalidAzureADDeviceId, missingTrustType, invalidGlobalDeviceId, or a newer one",
        examples=["invalidAzureADJoin"],
    )
    hint: str = Field(description="What the admin must fix, in plain language")


class DeviceRolloutOut(BaseModel):
    """A rollout the device is a confirmed member or exclusion of."""

    rolloutId: str
    name: str
    membership: Literal["member", "excluded"]
    state: str = Field(
        description="The rollout's effective state as last observed (`state.effective` of"
        " the rollout)",
        examples=["offering"],
    )


class DeviceOut(BaseModel):
    """One device as Graph knows it, with the rollouts of this service it is in."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    deviceId: str = Field(description="The Entra device id, lower-case")
    registered: bool = Field(
        description="Graph's deployment service knows the device (it was enrolled or added"
        " to an audience at least once)"
    )
    enrollment: EnrollmentOut
    errors: list[RegistrationErrorOut]
    rollouts: list[DeviceRolloutOut] = Field(description="Newest rollout first")


UpdateCategory = Literal["feature", "quality", "driver"]


class ReleaseRequest(StrictModel):
    """Devices to hand back to Windows Update's normal policies for one update category."""

    category: UpdateCategory = Field(description="The update category to unenroll them from")
    devices: Annotated[DeviceIdList, Field(min_length=1)]
    ticket: Ticket | None = None
    reason: Reason | None = None


class RolloutRef(BaseModel):
    """A rollout named by id and name."""

    rolloutId: str
    name: str


class HeldDeviceOut(BaseModel):
    """A device the service enrolled that is in no active rollout of the category: it receives
    no update of that category at all until it joins a rollout or is released."""

    deviceId: str
    category: UpdateCategory
    enrolledAt: UtcOut = Field(description="When the service had Graph enroll it")
    lastRollout: RolloutRef | None = Field(description="The rollout that last had it as a member")
    heldSince: UtcOut | None = Field(
        description="When it left that rollout, or the rollout was archived or deleted"
    )
