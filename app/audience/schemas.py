"""Public API models of audience changes and listings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from app.api_types import DeviceIdList, Reason, StrictModel, Ticket, UtcOut


class AudienceChangeRequest(StrictModel):
    """Devices to add to or remove from a rollout's members and exclusions."""

    addDevices: DeviceIdList = Field(default_factory=list)
    removeDevices: DeviceIdList = Field(default_factory=list)
    addExclusions: DeviceIdList = Field(default_factory=list)
    removeExclusions: DeviceIdList = Field(default_factory=list)
    ticket: Ticket | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _something_to_do(self) -> AudienceChangeRequest:
        total = (
            len(self.addDevices)
            + len(self.removeDevices)
            + len(self.addExclusions)
            + len(self.removeExclusions)
        )
        if total == 0:
            raise ValueError("name at least one device to add or remove")
        if total > 100_000:
            raise ValueError(f"at most 100000 device ids in one request, got {total}")
        return self


class AudienceDeviceOut(BaseModel):
    """A device in a rollout's audience, as the service last confirmed it."""

    deviceId: str
    membership: Literal["member", "excluded"]
    confirmedAt: UtcOut
