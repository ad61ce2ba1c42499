"""Public API model of one device: what Graph knows of it, and our rollouts it is in."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
